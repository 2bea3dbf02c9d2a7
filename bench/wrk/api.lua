-- wrk script of bench/api_summary.py: GET PATH with the next client's bearer token in turn.
--
--   wrk -t T -c C -d Ds --timeout 5s -s bench/wrk/api.lua http://127.0.0.1:PORT -- get PATH
--
-- The clients file (HEYON_WRK_CLIENTS) has one line per client, its first tab-separated
-- field the access token. A 200 answer whose JSON body is complete counts as good. At the
-- end one line "HEYON {json}" in bench/wrk/heyon.lua's format, which bench/load.py reads.

local all_clients, threads = nil, {}
function setup(thread)
  if all_clients == nil then
    all_clients = {}
    for line in io.lines(os.getenv("HEYON_WRK_CLIENTS")) do
      all_clients[#all_clients + 1] = line:match("^([^\t]*)")
    end
  end
  local count = tonumber(os.getenv("HEYON_WRK_THREADS") or "1")
  local position = #threads
  local assigned = {}
  for k = 1, #all_clients do
    if (k - 1) % count == position then assigned[#assigned + 1] = all_clients[k] end
  end
  thread:set("assigned", table.concat(assigned, "\n"))
  threads[#threads + 1] = thread
end

local mine, turn = {}, 0
good, bad = 0, 0
bad_kinds = {}

function init(args)
  path = args[2]
  for token in (assigned or ""):gmatch("[^\n]+") do mine[#mine + 1] = token end
end

function request()
  turn = turn % #mine + 1
  local headers = {
    ["Host"] = "127.0.0.1",
    ["User-Agent"] = "heyon-load-bench",
    ["Accept"] = "application/json",
    ["Authorization"] = "Bearer " .. mine[turn],
  }
  return wrk.format("GET", path, headers)
end

function response(status, headers, body)
  if status == 200 and body:sub(-1) == "}" then
    good = good + 1
  else
    bad = bad + 1
    if #bad_kinds < 5 then bad_kinds[#bad_kinds + 1] = "GET " .. status end
  end
end

local function json_string(text)
  return '"' .. text:gsub('[%c"\\]', " ") .. '"'
end

function done(summary, latency, requests)
  local good_total, bad_total, kinds = 0, 0, {}
  for _, thread in ipairs(threads) do
    good_total = good_total + thread:get("good")
    bad_total = bad_total + thread:get("bad")
    for _, kind in ipairs(thread:get("bad_kinds")) do kinds[#kinds + 1] = json_string(kind) end
  end
  local histogram = {}
  for k = 1, #latency do
    local us, count = latency(k)
    histogram[#histogram + 1] = string.format('"%d":%d', us, count)
  end
  local errors = summary.errors
  io.write(string.format(
    'HEYON {"requests":%d,"duration_us":%d,"good":%d,"bad":%d,"decisions":0,' ..
    '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"status_errors":%d,' ..
    '"bad_kinds":[%s],"claims":{},"latency_us":{%s}}\n',
    summary.requests, summary.duration, good_total, bad_total,
    errors.connect, errors.read, errors.write, errors.timeout, errors.status,
    table.concat(kinds, ","), table.concat(histogram, ",")))
end

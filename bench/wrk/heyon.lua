-- wrk script of bench/load.py: one scenario per run, chosen by the first argument.
--
--   wrk -t T -c C -d Ds --timeout 5s -s bench/wrk/heyon.lua http://127.0.0.1:PORT -- MODE [PATH]
--
-- MODE "get": GET PATH, each request with the next client's cookies in turn (anonymous
-- when the clients file is empty); a 200 answer whose body ends the page counts as good.
-- MODE "decide-next" or "claim-decide": a reviewer per thread (run with -c equal to -t, so
-- each thread has one connection and its requests follow one another): claim with POST
-- /staff/reviews/next/, then decide with POST /staff/reviews/<id>/decide/, with take_next
-- ("decide-next": the answer holds the next claim) or without ("claim-decide": claim again).
-- Approve 4 in 5, else reject with one or two retryable reason codes.
--
-- The clients file (HEYON_WRK_CLIENTS, written by bench/load.py) has one line per client:
-- "<Cookie header>\t<CSRF token>\t<name>". At the end one line "HEYON {json}" per run:
-- requests, errors (and their first kinds), decisions, the claims each reviewer saw, and the
-- latency histogram (microseconds: count) that bench/load.py merges over the rounds.

local REJECT_CODES = { "IMG_BLURRY", "IMG_GLARE", "IMG_DARK", "DOC_CROPPED", "DOC_COVERED", "SIDE_WRONG" }
-- "请在光线充足处重新拍摄。", form-encoded
local MESSAGE = "%E8%AF%B7%E5%9C%A8%E5%85%89%E7%BA%BF%E5%85%85%E8%B6%B3%E5%A4%84%E9%87%8D%E6%96%B0%E6%8B%8D%E6%91%84%E3%80%82"

local function parse_client(line)
  local cookie, csrf, name = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
  if cookie then return { cookie = cookie, csrf = csrf, name = name } end
end

-- Main state: hand the clients to the threads, round robin (HEYON_WRK_THREADS = -t).
local all_clients, threads = nil, {}
function setup(thread)
  if all_clients == nil then
    all_clients = {}
    local file = os.getenv("HEYON_WRK_CLIENTS")
    if file and file ~= "" then
      for line in io.lines(file) do all_clients[#all_clients + 1] = line end
    end
  end
  local count = tonumber(os.getenv("HEYON_WRK_THREADS") or "1")
  local position = #threads
  local assigned = {}
  for k = 1, #all_clients do
    if (k - 1) % count == position then assigned[#assigned + 1] = all_clients[k] end
  end
  thread:set("assigned", table.concat(assigned, "\n"))
  thread:set("position", position)
  threads[#threads + 1] = thread
end

-- Thread state from here. The counters are globals: done() reads them with thread:get().
local mine, turn, pending, claimed = {}, 0, nil, nil
good, bad, decisions, reviewer_name = 0, 0, 0, ""
bad_kinds, claims = {}, {}

function init(args)
  mode, path = args[1], args[2]
  for line in (assigned or ""):gmatch("[^\n]+") do mine[#mine + 1] = parse_client(line) end
  if mine[1] then reviewer_name = mine[1].name end
  math.randomseed(os.time() + (position or 0) * 7919)
end

local function headers_for(client, form)
  local headers = { ["Host"] = "127.0.0.1", ["User-Agent"] = "heyon-load-bench" }
  if client and client.cookie ~= "" then headers["Cookie"] = client.cookie end
  if form then headers["Content-Type"] = "application/x-www-form-urlencoded" end
  return headers
end

function request()
  if mode == "get" then
    pending = "get"
    local client = nil
    if #mine > 0 then
      turn = turn % #mine + 1
      client = mine[turn]
    end
    return wrk.format("GET", path, headers_for(client, false))
  end
  local reviewer = mine[1]
  local body = "csrfmiddlewaretoken=" .. reviewer.csrf
  if claimed == nil then
    pending = "claim"
    return wrk.format("POST", "/staff/reviews/next/", headers_for(reviewer, true), body)
  end
  pending = "decide"
  if math.random() < 0.8 then
    body = body .. "&decision=approve"
  else
    body = body .. "&decision=reject&customer_message=" .. MESSAGE
    local first = math.random(#REJECT_CODES)
    body = body .. "&reason_codes=" .. REJECT_CODES[first]
    if math.random() < 0.5 then
      body = body .. "&reason_codes=" .. REJECT_CODES[first % #REJECT_CODES + 1]
    end
  end
  if mode == "decide-next" then body = body .. "&take_next=on" end
  return wrk.format("POST", "/staff/reviews/" .. claimed .. "/decide/", headers_for(reviewer, true), body)
end

local function note_bad(kind)
  bad = bad + 1
  if #bad_kinds < 5 then bad_kinds[#bad_kinds + 1] = kind end
end

function response(status, headers, body)
  if pending == "get" then
    if status == 200 and body:find("</html>", 1, true) then good = good + 1 else note_bad("GET " .. status) end
    return
  end
  local location = headers["Location"] or ""
  local next_id = location:match("/staff/reviews/(%d+)/$")
  if pending == "claim" then
    if status == 302 and location:match("/staff/reviews/$") then
      good = good + 1
      wrk.thread:stop() -- the queue is empty
    elseif status == 302 and next_id then
      good = good + 1
      claimed = next_id
      claims[#claims + 1] = next_id
    else
      note_bad("claim " .. status .. " " .. location)
    end
    return
  end
  -- a decision
  local decided = claimed
  claimed = nil
  if status == 302 and (location:match("/staff/reviews/$") or (mode == "decide-next" and next_id)) then
    good = good + 1
    decisions = decisions + 1
    if mode == "decide-next" then
      if next_id then
        claimed = next_id
        claims[#claims + 1] = next_id
      else
        wrk.thread:stop() -- the queue is empty
      end
    end
  else
    note_bad("decide " .. decided .. " " .. status .. " " .. location)
  end
end

-- Main state again.
local function json_string(text)
  return '"' .. text:gsub('[%c"\\]', " ") .. '"'
end

function done(summary, latency, requests)
  local good_total, bad_total, decisions_total = 0, 0, 0
  local kinds, seen = {}, {}
  for _, thread in ipairs(threads) do
    good_total = good_total + thread:get("good")
    bad_total = bad_total + thread:get("bad")
    decisions_total = decisions_total + thread:get("decisions")
    for _, kind in ipairs(thread:get("bad_kinds")) do kinds[#kinds + 1] = json_string(kind) end
    local ids = thread:get("claims")
    if #ids > 0 then
      seen[#seen + 1] = json_string(thread:get("reviewer_name")) .. ":[" .. table.concat(ids, ",") .. "]"
    end
  end
  local histogram = {}
  for k = 1, #latency do -- the k-th distinct latency recorded, and how many requests took it
    local us, count = latency(k)
    histogram[#histogram + 1] = string.format('"%d":%d', us, count)
  end
  local errors = summary.errors
  io.write(string.format(
    'HEYON {"requests":%d,"duration_us":%d,"good":%d,"bad":%d,"decisions":%d,' ..
    '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"status_errors":%d,' ..
    '"bad_kinds":[%s],"claims":{%s},"latency_us":{%s}}\n',
    summary.requests, summary.duration, good_total, bad_total, decisions_total,
    errors.connect, errors.read, errors.write, errors.timeout, errors.status,
    table.concat(kinds, ","), table.concat(seen, ","), table.concat(histogram, ",")))
end

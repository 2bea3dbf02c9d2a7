"""The fields of a PRC Resident ID card in OCR'd lines, compared with what we know.

Pure functions: lines of text in, field results out. Each field's outcome is one of
``match`` (the card says what the customer typed or the ID number encodes),
``mismatch``, ``unreadable`` (not found on the card), or ``read`` (found, with nothing
to compare it with: ethnicity, issuing authority).
"""

import datetime
import re
from dataclasses import asdict, dataclass

from stdnum.cn import ric

MATCH = "match"
MISMATCH = "mismatch"
UNREADABLE = "unreadable"
READ = "read"

VALID = "valid"
EXPIRED = "expired"
LONG_TERM = "long_term"

# Characters OCR confuses with digits in the number line.
_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "D": "0", "I": "1", "l": "1", "|": "1", "x": "X", "×": "X"})
_ID_NUMBER = re.compile(r"\d{17}[\dX]")
_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_PERIOD = re.compile(r"(\d{4})\D?(\d{2})\D?(\d{2})[-—–~至一]+(?:(\d{4})\D?(\d{2})\D?(\d{2})|(长期))")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff·]+")
_ADDRESS_STOP = ("公民身份号码", "公民身份", "身份号码")


@dataclass
class FieldResult:
    """One field of the card: what was read, and how it compares."""

    outcome: str
    read: str = ""
    # What it was compared with: "typed" (the form) or "id_number" (what the number encodes).
    against: str = ""

    def as_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if value}


def _compact(text: str) -> str:
    return "".join(text.split())


def _after_label(lines: list[str], label: str) -> str | None:
    """The rest of the first line that starts with ``label`` (OCR may drop the label's last character)."""
    for line in lines:
        for variant in (label, label[:-1]):
            if line.startswith(variant):
                return line[len(variant) :]
    return None


def find_id_number(text: str) -> str:
    """The 18-character number on the card, preferring one whose checksum holds; "" if none."""
    compact = _compact(text).translate(_DIGIT_LOOKALIKES).upper()
    candidates = _ID_NUMBER.findall(compact)
    for candidate in candidates:
        if ric.calc_check_digit(candidate) == candidate[-1]:
            return candidate
    return candidates[0] if candidates else ""


def normalize_name(name: str) -> str:
    return _compact(name).replace("•", "·").replace("・", "·").replace(".", "·")


def parse_front(lines: list[str]) -> dict[str, str]:
    """Name, sex, ethnicity, birth date (ISO), address and ID number from the front's lines."""
    lines = [_compact(line) for line in lines if _compact(line)]
    fields = {}
    name = _after_label(lines, "姓名")
    if name:
        cjk = _CJK.findall(name)
        fields["name"] = cjk[0] if cjk else name
    for line in lines:
        sex = re.search(r"性别?([男女])", line)
        if sex and "sex" not in fields:
            fields["sex"] = sex.group(1)
        ethnicity = re.search(r"民族?([\u4e00-\u9fff]{1,6})", line)
        if ethnicity and "ethnicity" not in fields and "族" in line:
            fields["ethnicity"] = ethnicity.group(1)
        date = _DATE.search(line)
        if date and "birth_date" not in fields:
            try:
                fields["birth_date"] = datetime.date(*map(int, date.groups())).isoformat()
            except ValueError:
                fields["birth_date_text"] = date.group(0)
    address = []
    for index, line in enumerate(lines):
        if line.startswith("住址") or line.startswith("住"):
            address.append(line.removeprefix("住址").removeprefix("住"))
            for following in lines[index + 1 :]:
                if any(stop in following for stop in _ADDRESS_STOP) or find_id_number(following):
                    break
                address.append(following)
            break
    if "".join(address):
        fields["address"] = "".join(address)
    number = find_id_number("".join(lines))
    if number:
        fields["id_number"] = number
    return fields


def parse_back(lines: list[str]) -> dict[str, str]:
    """Issuing authority and validity period (ISO dates; ``valid_until`` is "" for 长期) from the back's lines."""
    lines = [_compact(line) for line in lines if _compact(line)]
    fields = {}
    authority = _after_label(lines, "签发机关")
    if authority:
        fields["authority"] = authority
    period = _PERIOD.search("".join(lines).replace("．", ".").replace("。", "."))
    if period:
        start = period.groups()[:3]
        end = period.groups()[3:6]
        try:
            fields["valid_from"] = datetime.date(*map(int, start)).isoformat()
            fields["valid_until"] = "" if period.group(7) else datetime.date(*map(int, end)).isoformat()
        except ValueError:
            fields.pop("valid_from", None)
    return fields


def looks_like_front(lines: list[str]) -> bool:
    text = _compact("".join(lines))
    return "公民身份号码" in text or ("姓名" in text and "性别" in text)


def looks_like_back(lines: list[str]) -> bool:
    text = _compact("".join(lines))
    return "签发机关" in text or "有效期限" in text or ("居民身份证" in text and "中华人民共和国" in text)


def encoded_sex(id_number: str) -> str:
    """男 or 女: the 17th digit is odd for men."""
    return "男" if int(id_number[16]) % 2 else "女"


def _compare(read: str | None, expected: str, *, against: str) -> FieldResult:
    if not read:
        return FieldResult(UNREADABLE, against=against)
    return FieldResult(MATCH if read == expected else MISMATCH, read=read, against=against)


def compare_front(front: dict[str, str], *, typed_name: str, typed_id_number: str) -> dict[str, dict]:
    """Each front field against the form (name, number) or what the typed number encodes (sex, birth date, region)."""
    results = {
        "name": _compare(normalize_name(front.get("name", "")), normalize_name(typed_name), against="typed"),
        "sex": _compare(front.get("sex"), encoded_sex(typed_id_number), against="id_number"),
        "ethnicity": FieldResult(READ, read=front["ethnicity"]) if front.get("ethnicity") else FieldResult(UNREADABLE),
        "birth_date": _compare(
            front.get("birth_date") or front.get("birth_date_text"),
            ric.get_birth_date(typed_id_number).isoformat(),
            against="id_number",
        ),
        "address": _compare_region(front.get("address", ""), typed_id_number),
        "id_number": _compare(front.get("id_number"), typed_id_number, against="typed"),
    }
    return {key: result.as_dict() for key, result in results.items()}


def _compare_region(address: str, id_number: str) -> FieldResult:
    """Does the address lie in the province the number's first six digits name?

    A number keeps the region where it was first issued, so a customer who moved has a
    mismatch here that means nothing by itself; the reviewer reads it as a hint.
    """
    if not address:
        return FieldResult(UNREADABLE, against="id_number")
    try:
        province = ric.get_birth_place(id_number)["province"]
    except (KeyError, ValueError, LookupError):
        return FieldResult(READ, read=address)
    # 北京市 / 广东省 / 内蒙古自治区: the name without its suffix starts the address.
    stem = re.sub(r"(省|市|自治区|壮族自治区|回族自治区|维吾尔自治区|特别行政区)$", "", province)
    return FieldResult(MATCH if address.startswith(stem) else MISMATCH, read=address, against="id_number")


def compare_back(back: dict[str, str], *, on_day: datetime.date) -> tuple[dict[str, dict], str, dict]:
    """The back's fields, the document's expiry outcome and its validity dates."""
    results = {
        "authority": FieldResult(READ, read=back["authority"]) if back.get("authority") else FieldResult(UNREADABLE),
    }
    validity = {}
    if "valid_from" not in back:
        results["validity"] = FieldResult(UNREADABLE)
        expiry = UNREADABLE
    else:
        until = back["valid_until"]
        results["validity"] = FieldResult(READ, read=f"{back['valid_from']} – {until or '长期'}")
        validity = {"valid_from": datetime.date.fromisoformat(back["valid_from"])}
        if not until:
            expiry = LONG_TERM
            validity["valid_until"] = None
        else:
            validity["valid_until"] = datetime.date.fromisoformat(until)
            expiry = EXPIRED if validity["valid_until"] < on_day else VALID
    return {key: result.as_dict() for key, result in results.items()}, expiry, validity

"""The Simplified Chinese catalogue is complete and safe to compile.

* no entry of locale/zh_Hans/LC_MESSAGES/django.po is untranslated or fuzzy (compilemessages
  drops fuzzy entries, so the page would silently fall back to English);
* every msgstr keeps exactly the placeholders of its msgid (``%(name)s``, ``%s``, ``{0}``, HTML
  tags), or the page would crash or lose a value;
* the catalogue is up to date with the source: makemessages, run on a copy of the project in a
  temporary directory (the real locale directory is never touched), finds no new or gone msgid.

The .po is read with a small parser of its own, so the test needs no extra package.
"""

import ast
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.utils import find_command

BASE_DIR = Path(settings.BASE_DIR)
PO_PATH = BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"

# Python %-format (incl. %(name)s and %%), str.format fields, and HTML tags.
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]|\{[^{}]*\}|</?[A-Za-z][^>]*>")


def parse_po(text: str) -> list[dict]:
    """Entries of a .po file: msgctxt, msgid, msgid_plural, msgstr (a dict for plurals), flags."""
    entries = []
    entry = None
    field = None

    def flush():
        nonlocal entry, field
        if entry is not None and "msgid" in entry:
            entries.append(entry)
        entry, field = None, None

    for raw in text.splitlines():
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
            if line.startswith("|"):
                continue  # previous msgid of an obsolete entry
        if not line:
            flush()
            continue
        if line.startswith("#"):
            if line.startswith("#,"):
                if entry is not None and "msgid" in entry:
                    flush()
                entry = entry or {"flags": set(), "obsolete": False}
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            target = entry["msgstr"] if isinstance(field, int) else entry
            target[field] += ast.literal_eval(line)
            continue
        match = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
        if keyword in ("msgctxt", "msgid") and entry is not None and "msgstr" in entry:
            flush()
        entry = entry or {"flags": set(), "obsolete": False}
        entry["obsolete"] = entry["obsolete"] or obsolete
        value = ast.literal_eval(rest)
        if match:
            entry.setdefault("msgstr", {})
            field = int(match.group(1))
            entry["msgstr"][field] = value
        else:
            field = keyword
            entry[keyword] = value
    flush()
    return entries


def live_entries(path: Path) -> list[dict]:
    return [e for e in parse_po(path.read_text(encoding="utf-8")) if e["msgid"] and not e["obsolete"]]


def key(entry: dict) -> str:
    context = entry.get("msgctxt")
    return f"{context}\x04{entry['msgid']}" if context is not None else entry["msgid"]


def translations(entry: dict) -> list[str]:
    msgstr = entry.get("msgstr", "")
    return list(msgstr.values()) if isinstance(msgstr, dict) else [msgstr]


def placeholders(text: str) -> Counter:
    return Counter(PLACEHOLDER.findall(text))


@pytest.fixture(scope="module")
def catalogue():
    entries = live_entries(PO_PATH)
    assert len(entries) > 100, "the .po parser found almost nothing: is the file or the parser broken?"
    return entries


def test_every_entry_is_translated(catalogue):
    untranslated = [key(e) for e in catalogue if not all(translations(e))]
    assert not untranslated, f"{len(untranslated)} untranslated entries in {PO_PATH.name}: {untranslated[:20]}"


def test_no_entry_is_fuzzy(catalogue):
    fuzzy = [key(e) for e in catalogue if "fuzzy" in e["flags"]]
    assert not fuzzy, f"{len(fuzzy)} fuzzy entries (compilemessages ignores them): {fuzzy[:20]}"


def test_placeholders_match(catalogue):
    wrong = []
    for entry in catalogue:
        if entry.get("msgid_plural"):
            # Chinese has one plural form; it must carry what either English form carries.
            expected = set(placeholders(entry["msgid"])) | set(placeholders(entry["msgid_plural"]))
            wrong += [(key(entry), s) for s in translations(entry) if s and set(placeholders(s)) != expected]
        else:
            expected = placeholders(entry["msgid"])
            wrong += [(key(entry), s) for s in translations(entry) if s and placeholders(s) != expected]
    assert not wrong, f"placeholders differ from the msgid: {wrong[:20]}"


def test_parser_reads_context_plurals_and_multiline_entries(catalogue):
    sample = parse_po(
        '#, fuzzy\nmsgctxt "c"\nmsgid ""\n"a %(n)s "\n"b"\nmsgid_plural "p"\nmsgstr[0] "x"\n"y"\n\n'
        '#~ msgid "old"\n#~ msgstr "旧"\n'
    )
    assert sample[0] == {
        "flags": {"fuzzy"},
        "obsolete": False,
        "msgctxt": "c",
        "msgid": "a %(n)s b",
        "msgid_plural": "p",
        "msgstr": {0: "xy"},
    }
    assert sample[1]["obsolete"] and sample[1]["msgstr"] == "旧"
    assert any(e.get("msgctxt") for e in catalogue)


SOURCE_IGNORE = shutil.ignore_patterns(
    ".*", "__pycache__", "*.pyc", "*.mo", "node_modules", "staticfiles", "test-results", "*.sqlite3"
)


@pytest.mark.skipif(not find_command("xgettext") or not find_command("msgmerge"), reason="needs GNU gettext")
def test_catalogue_is_up_to_date_with_the_source(tmp_path, settings, monkeypatch, catalogue):
    """makemessages on a copy finds exactly the msgids the committed catalogue has."""
    copy = tmp_path / "project"
    copy.mkdir()
    for item in BASE_DIR.iterdir():
        if item.name.startswith(".") or item.name in ("tests", "bench", "var"):
            continue
        if item.is_dir():
            shutil.copytree(item, copy / item.name, ignore=SOURCE_IGNORE)
        elif item.suffix in (".py", ".html", ".txt"):
            shutil.copy2(item, copy / item.name)
    settings.LOCALE_PATHS = [copy / "locale"]
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["zh_Hans"], ignore_patterns=[".venv", "tests", "bench"], verbosity=0)

    fresh = {key(e) for e in live_entries(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")}
    committed = {key(e) for e in catalogue}
    missing = sorted(fresh - committed)
    gone = sorted(committed - fresh)
    assert not missing, f"run makemessages: the source has msgids the catalogue lacks: {missing[:20]}"
    assert not gone, f"run makemessages: the catalogue has msgids the source no longer uses: {gone[:20]}"


def test_every_field_of_our_models_has_a_translatable_label():
    """Administrators read the admin in Chinese: a field without a lazy verbose_name shows its English name."""
    from django.apps import apps
    from django.utils.functional import Promise

    unlabelled = [
        f"{model._meta.label}.{model_field.name}"
        for app in ("accounts", "reviews", "billing")
        for model in apps.get_app_config(app).get_models()
        for model_field in model._meta.get_fields()
        if getattr(model_field, "concrete", False)
        and not model_field.auto_created
        and not isinstance(model_field.verbose_name, Promise)
    ]

    assert unlabelled == []

"""Every template of the project keeps to the Content Security Policy.

The policy (settings.CONTENT_SECURITY_POLICY) runs only scripts from our own static
files and allows no inline style, so a template must not carry an inline ``<script>``,
an ``on*=`` event handler, a ``javascript:`` URL, a ``style=`` attribute or a
``<style>`` element: the browser would refuse them. Script data blocks
(``type="application/json"``, what ``json_script`` makes) are not run, so they pass.
"""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template import engines

BASE_DIR = Path(settings.BASE_DIR).resolve()
VENV = BASE_DIR / ".venv"

SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
DATA_BLOCK_TYPE = re.compile(r"""\btype\s*=\s*["']?application/(ld\+)?json""", re.IGNORECASE)
SRC = re.compile(r"\bsrc\s*=", re.IGNORECASE)
TAG = re.compile(r"<[a-zA-Z][^>]*>", re.DOTALL)
EVENT_HANDLER = re.compile(r"""\s(on[a-z]+)\s*=""", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"""\sstyle\s*=""", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"javascript\s*:", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)


def project_templates() -> list[Path]:
    """Every template file in the project's own template folders (not the installed packages')."""
    folders = set()
    for engine in engines.all():
        for folder in engine.template_dirs:
            path = Path(folder).resolve()
            if path.is_relative_to(BASE_DIR) and not path.is_relative_to(VENV):
                folders.add(path)
    return sorted(path for folder in folders for path in folder.rglob("*") if path.is_file())


def csp_problems(text: str) -> list[str]:
    problems = []
    for match in SCRIPT_TAG.finditer(text):
        attributes = match.group(1)
        if not SRC.search(attributes) and not DATA_BLOCK_TYPE.search(attributes):
            problems.append(f"inline script: {match.group(0)}")
    for tag in TAG.finditer(text):
        for handler in EVENT_HANDLER.finditer(tag.group(0)):
            problems.append(f"event handler {handler.group(1)}= in {tag.group(0)[:80]}")
        if STYLE_ATTRIBUTE.search(tag.group(0)):
            problems.append(f"style attribute in {tag.group(0)[:80]}")
    if JAVASCRIPT_URL.search(text):
        problems.append("javascript: URL")
    if STYLE_ELEMENT.search(text):
        problems.append("<style> element")
    return problems


def test_the_templates_are_found():
    names = {path.relative_to(BASE_DIR).as_posix() for path in project_templates()}
    assert "heyon_site/templates/base.html" in names
    assert "reviews/templates/reviews/submit.html" in names
    assert "customers/templates/customers/account_centre.html" in names
    assert len(names) >= 40


@pytest.mark.parametrize(
    "snippet",
    [
        "<script>alert(1)</script>",
        '<script type="text/javascript">go()</script>',
        "<SCRIPT\n  defer>go()</SCRIPT>",
        '<button type="button" onclick="go()">Go</button>',
        "<body onload='go()'>",
        '<img src="x.png"\n     onerror="go()">',
        '<a href="javascript:go()">Go</a>',
        '<a href="JavaScript :go()">Go</a>',
        '<div style="width: 30%">',
        "<style>.x { color: red }</style>",
    ],
)
def test_the_checker_finds_what_the_policy_would_block(snippet):
    assert csp_problems(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        "<script src=\"{% static 'heyon/dashboard.js' %}\"></script>",
        '<script id="constants" type="application/json">{"a": 1}</script>',
        '<div class="bar" data-height="30"></div>',
        '<input type="text" name="onboarding_code">',
        "<p>Questions? Call us on weekdays.</p>",
    ],
)
def test_the_checker_lets_through_what_the_policy_allows(snippet):
    assert csp_problems(snippet) == []


def test_no_template_has_inline_script_handlers_javascript_urls_or_inline_styles():
    problems = {}
    for path in project_templates():
        found = csp_problems(path.read_text(encoding="utf-8"))
        if found:
            problems[path.relative_to(BASE_DIR).as_posix()] = found
    assert problems == {}

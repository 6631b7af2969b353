"""Cloudflare adds its bot-detection script (JavaScript Detections,
`/cdn-cgi/challenge-platform/h/b/scripts/jsd/<version>/main.js`) to every HTML page of a
site with the feature on. `soft404.lapsed_shell` took any `challenge-platform` for a bot
check, so a lapsed domain's script-only parking page served through Cloudflare stayed
"OK" for good, never "parked"; `classify` called an origin's own 403/503 page through
Cloudflare a challenge. Now only a challenge's own signs count; a real challenge, with the
script or without, is still a wall, and a page of text with it is still a page.
"""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from catalog.check.classify import Verdict, blocked_reason, classify
from catalog.check.content import analyse_body
from catalog.check.facts import Probe
from catalog.check.soft404 import LAPSED_SHELL, bot_check, lapsed_shell
from catalog.outcomes import Outcome
from tests.test_b1_bot_check_200 import CLOUDFLARE as CLOUDFLARE_WALL
from tests.test_b1_bot_check_200 import CLOUDFLARE_IUAM
from tests.test_e2_lapsed_shell import GUIDE, HOST, PARKED, PARKED_MOUNT, URL, read
from tests.test_e4_lapsed_shell_walls import CLOUDFLARE as CLOUDFLARE_SHELL
from tests.test_e4_lapsed_shell_walls import facts

#: The snippet as Cloudflare injects it before `</body>` (a hidden iframe loads the script).
JSD_IFRAME = (
    "<script>(function(){function c(){var b=a.contentDocument||a.contentWindow.document;"
    "if(b){var d=b.createElement('script');d.innerHTML=\"window.__CF$cv$params={r:'8f9111ab"
    "ba27e161',t:'MTczNTM4Mzg2MS4wMDAwMDA='};var a=document.createElement('script');"
    "a.nonce='';a.src='/cdn-cgi/challenge-platform/h/b/scripts/jsd/787bc399e22f/main.js';"
    "document.getElementsByTagName('head')[0].appendChild(a);\";b.getElementsByTagName('head')"
    "[0].appendChild(d)}}if(document.body){var a=document.createElement('iframe');a.height=1;"
    "a.width=1;a.style.position='absolute';a.style.top=0;a.style.left=0;a.style.border='none';"
    "a.style.visibility='hidden';document.body.appendChild(a);if('loading'!==document."
    "readyState)c();else if(window.addEventListener)document.addEventListener("
    "'DOMContentLoaded',c);}})();</script>"
)
#: An older, shorter form, without the version path.
JSD_PLAIN = (
    "<script>window.__CF$cv$params={r:'8f2a9c3b',t:'MTczMw=='};var a=document.createElement("
    "'script');a.src='/cdn-cgi/challenge-platform/scripts/jsd/main.js';"
    "document.head.appendChild(a);</script>"
)
#: Bot Management's earlier injection (2021-2023, still in pages saved or cached then):
#: its parameters name the platform's folder alone, and the script is alpha/invisible.js.
INVISIBLE = (
    "<script>(function(){var js = \"window['__CF$cv$params']={r:'7d753b6fbf910c71',"
    "m:'rgk.SS_4W_X9vBlxps0bI6',s:[0x2b3c8c1d9a,0x1e4c7a2b5f],u:'/cdn-cgi/challenge-platform"
    "/h/b'};var now=Date.now()/1000,offset=14400,ts=''+(Math.floor(now)-Math.floor(now%offset)"
    "),_cpo=document.createElement('script');_cpo.nonce='',_cpo.src='/cdn-cgi/challenge-"
    "platform/h/b/scripts/alpha/invisible.js?ts='+ts,document.getElementsByTagName('head')[0]"
    '.appendChild(_cpo);";})();</script>'
)
#: The same script loaded plainly, without `alpha/`.
INVISIBLE_PLAIN = (
    '<script async src="/cdn-cgi/challenge-platform/h/b/scripts/invisible.js"></script>'
)
SNIPPETS = [
    pytest.param(JSD_IFRAME, id="versioned"),
    pytest.param(JSD_PLAIN, id="plain"),
    pytest.param(INVISIBLE, id="bot-management-invisible"),
    pytest.param(INVISIBLE_PLAIN, id="invisible-plain"),
]


def injected(body: str, snippet: str) -> str:
    return body.replace("</body>", f"{snippet}</body>")


@pytest.mark.parametrize("snippet", SNIPPETS)
@pytest.mark.parametrize("parked", [PARKED, PARKED_MOUNT], ids=["parked", "parked-mount"])
def test_a_parked_domain_behind_cloudflares_detection_script_is_still_parked(
    parked: str, snippet: str
) -> None:
    body = injected(parked, snippet)
    page = analyse_body(body.encode(), "text/html", truncated=False)
    assert lapsed_shell(page, body.encode(), read(GUIDE), URL) == LAPSED_SHELL
    assert bot_check(body.encode(), page) is None  # no wall either
    verdict = classify(facts(body, read(GUIDE)))
    assert verdict.outcome is Outcome.OK
    assert LAPSED_SHELL in verdict.reason


@pytest.mark.parametrize("snippet", SNIPPETS)
def test_a_page_of_text_with_the_detection_script_is_a_page(snippet: str) -> None:
    body = injected(GUIDE, snippet)
    probe = Probe(f"https://{HOST}/linkhealth-probe-x", 404, None)  # the site says "missing"
    verdict = classify(replace(facts(body, read(GUIDE)), probe=probe))
    assert verdict == Verdict(Outcome.OK, "GET 200")


@pytest.mark.parametrize("snippet", [*SNIPPETS, pytest.param("", id="alone")])
@pytest.mark.parametrize(
    "wall",
    [
        pytest.param(CLOUDFLARE_SHELL.format(title=HOST), id="managed-challenge-under-the-host"),
        pytest.param(CLOUDFLARE_SHELL.format(title="Just a moment..."), id="managed-challenge"),
        # Only the platform's challenge script names it: not a parked domain.
        pytest.param(
            f"<html><head><title>{HOST}</title></head><body><script src='/cdn-cgi/challenge-"
            "platform/h/b/orchestrate/jsch/v1?ray=8f2'></script></body></html>",
            id="orchestrate-script",
        ),
    ],
)
def test_a_cloudflare_challenge_is_never_parked_with_the_script_or_without(
    wall: str, snippet: str
) -> None:
    verdict = classify(facts(injected(wall, snippet), read(GUIDE)))
    assert LAPSED_SHELL not in verdict.reason


@pytest.mark.parametrize("snippet", [*SNIPPETS, pytest.param("", id="alone")])
@pytest.mark.parametrize("wall", [CLOUDFLARE_WALL, CLOUDFLARE_IUAM], ids=["managed", "iuam"])
@pytest.mark.parametrize("status", [200, 403, 503])
def test_a_cloudflare_challenge_stays_blocked_with_the_script_or_without(
    wall: str, snippet: str, status: int
) -> None:
    body = injected(wall, snippet).encode()
    headers = {"server": "cloudflare", "content-type": "text/html"}
    assert blocked_reason(status, headers, body) is not None


@pytest.mark.parametrize("snippet", SNIPPETS)
@pytest.mark.parametrize("status", [403, 503])
def test_an_origins_own_error_page_through_cloudflare_is_no_challenge(
    snippet: str, status: int
) -> None:
    origin = (
        "<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1><p>You don't "
        "have permission to access this resource.</p></body></html>"
    )
    body = injected(origin, snippet).encode()
    headers = httpx.Headers({"server": "cloudflare", "content-type": "text/html"})
    assert blocked_reason(status, headers, body) is None


@pytest.mark.parametrize("status", [403, 503])
def test_a_localised_challenge_without_its_header_is_still_one(status: int) -> None:
    """No `cf-mitigated` (a proxy in front stripped it), no English words: the challenge's
    own orchestrate script under the platform still says it."""
    body = (
        '<!DOCTYPE html><html lang="fr-FR"><head><title>Un instant&hellip;</title></head><body>'
        "<script>(function(){var cpo = document.createElement('script');cpo.src = '/cdn-cgi/"
        "challenge-platform/h/g/orchestrate/chl_page/v1?ray=8c1a';document."
        "getElementsByTagName('head')[0].appendChild(cpo);}());</script></body></html>"
    )
    headers = {"server": "cloudflare", "content-type": "text/html"}
    assert blocked_reason(status, headers, body.encode()) is not None

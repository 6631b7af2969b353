"""`soft404.lapsed_shell` said "parked or lapsed domain" of pages that are neither: a bot
check in the page's place (AWS WAF, a cookie-and-reload script, DDoS-Guard, Cloudflare's
"Just a moment...") and a site rebuilt as a client-side app with no title at all ("its
title is just the domain name" of a page without one). Each was queued under "Check by
hand" every night, since the note keeps the read from being stored. Only a page whose
title is the bare domain, with no sign of a bot check, is said to have lapsed."""

from __future__ import annotations

import httpx
import pytest

from catalog.check.classify import classify
from catalog.check.content import analyse_body
from catalog.check.facts import Answer, CheckFacts, Exchange, Probe
from catalog.check.soft404 import LAPSED_SHELL
from catalog.model import Hop, Previous
from catalog.outcomes import Outcome
from tests.test_e2_lapsed_shell import APP, GUIDE, HOST, PARKED, URL, read

TITLE = f"<title>{HOST}</title>"

#: AWS WAF's challenge: 202, its script proves a browser and reloads the page.
AWS_WAF = (
    "<!DOCTYPE html><html><head><title>{title}</title><meta charset='utf-8'>"
    "<script>window.awsWafCookieDomainList = [];window.gokuProps = {{'key':'AQID'}};</script>"
    "<script src='https://3f1e.edge.sdk.awswaf.com/3f1e/2b6d/challenge.js'></script></head>"
    "<body><div id='challenge-container'></div><script>AwsWafIntegration.checkForceRefresh()"
    ".then((f) => {{ if (f) {{ AwsWafIntegration.forceRefreshToken().then(() => "
    "{{ window.location.reload(true); }}); }} }});</script><noscript><h1>JavaScript is "
    "disabled</h1></noscript></body></html>"
)
#: The plainest bot check: a cookie set, the page reloaded.
COOKIE_RELOAD = (
    "<html><head>{title}<script>document.cookie = 'bot_check=5f3c9a; path=/; max-age=3600';"
    "location.reload();</script></head><body></body></html>"
)
DDOS_GUARD = (
    "<!DOCTYPE html><html><head><title>{title}</title>"
    "<script src='/.well-known/ddos-guard/check?context=free_splash'></script></head>"
    "<body><div id='ddg-splash'></div></body></html>"
)
CLOUDFLARE = (
    "<!DOCTYPE html><html lang='en-US'><head><title>{title}</title>"
    "<meta name='robots' content='noindex,nofollow'></head><body><div class='main-wrapper'>"
    "</div><script>(function(){{window._cf_chl_opt={{cvId: '3', cType: 'managed'}};"
    "var a = document.createElement('script');"
    "a.src = '/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1?ray=8f2';"
    "document.getElementsByTagName('head')[0].appendChild(a);}}());</script></body></html>"
)


def facts(body: str, before: Previous, status: int = 200) -> CheckFacts:
    page = analyse_body(body.encode(), "text/html", truncated=False)
    headers = httpx.Headers({"content-type": "text/html"})
    answer = Answer(URL, status, headers, body.encode())
    probe = Probe(f"https://{HOST}/linkhealth-probe-x", status, page)  # the same anywhere
    exchange = Exchange("GET", chain=(Hop(URL, status),), answer=answer)
    return CheckFacts(url=URL, exchanges=(exchange,), page=page, probe=probe, previous=before)


CHALLENGES = [
    pytest.param(AWS_WAF.format(title=""), 202, id="aws-waf"),
    pytest.param(COOKIE_RELOAD.format(title=""), 200, id="cookie-and-reload"),
    pytest.param(DDOS_GUARD.format(title="DDoS-Guard"), 200, id="ddos-guard"),
    pytest.param(CLOUDFLARE.format(title="Just a moment..."), 200, id="cloudflare"),
]
#: The same pages under the domain's name, as some sites title their every page: the body
#: still shows the bot check.
CHALLENGES_TITLED = [
    pytest.param(AWS_WAF.format(title=HOST), 202, id="aws-waf"),
    pytest.param(COOKIE_RELOAD.format(title=TITLE), 200, id="cookie-and-reload"),
    pytest.param(DDOS_GUARD.format(title=HOST), 200, id="ddos-guard"),
    pytest.param(CLOUDFLARE.format(title=HOST), 200, id="cloudflare"),
]


@pytest.mark.parametrize(("body", "status"), CHALLENGES + CHALLENGES_TITLED)
def test_a_bot_check_in_the_pages_place_is_no_lapsed_domain(body: str, status: int) -> None:
    verdict = classify(facts(body, read(GUIDE), status))
    assert LAPSED_SHELL not in verdict.reason
    assert "parked" not in verdict.reason


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(APP.replace("<title>Survivor Network</title>", ""), id="no-title-element"),
        pytest.param(APP.replace("Survivor Network", ""), id="empty-title"),
        pytest.param(APP.replace("Survivor Network", "   "), id="blank-title"),
    ],
)
def test_a_site_rebuilt_as_an_app_without_a_title_is_not_said_to_be_named_by_its_domain(
    body: str,
) -> None:
    verdict = classify(facts(body, read(GUIDE)))
    assert verdict.outcome is Outcome.OK
    assert LAPSED_SHELL not in verdict.reason
    assert "domain name" not in verdict.reason


def test_a_parking_page_under_the_domains_name_still_says_so() -> None:
    verdict = classify(facts(PARKED, read(GUIDE)))
    assert verdict.outcome is Outcome.OK
    assert LAPSED_SHELL in verdict.reason

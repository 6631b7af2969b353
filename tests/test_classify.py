"""The verdict is a pure function of the gathered facts: every outcome from plain records."""

from __future__ import annotations

import socket
import ssl
from dataclasses import replace

import httpx
import pytest

from catalog.check.classify import blocked_reason, classify
from catalog.check.content import PageFacts, analyse_body
from catalog.check.facts import Answer, CheckFacts, Exchange, Probe, RetryNote, Stop
from catalog.check.reasons import FailureKind, describe_error
from catalog.model import Hop
from catalog.outcomes import Outcome
from catalog.urls import UrlProblem

URL = "https://example.org/reports/2019.pdf"
NEW = "https://new.example.org/reports/2019.pdf"


def answered(status: int, *, url: str = URL, headers=None, body: bytes = b"", method="GET"):
    answer = Answer(url, status, httpx.Headers(headers or {}), body)
    return Exchange(method, chain=(Hop(url, status),), answer=answer)


def redirected(*hops: tuple[str, int], final_headers=None, body: bytes = b"") -> Exchange:
    url, status = hops[-1]
    answer = Answer(url, status, httpx.Headers(final_headers or {}), body)
    return Exchange("GET", chain=tuple(Hop(u, s) for u, s in hops), answer=answer)


def failed(error: BaseException, *, method: str = "GET") -> Exchange:
    return Exchange(method, chain=(Hop(URL, None),), error=error)


def facts(*exchanges: Exchange, url: str = URL, **kwargs) -> CheckFacts:
    return CheckFacts(url=url, exchanges=exchanges, **kwargs)


def raised_from(outer: BaseException, *causes: BaseException) -> BaseException:
    """`outer` raised from each cause in turn, like httpx wraps httpcore wraps the socket."""
    current = outer
    for cause in causes:
        current.__cause__ = cause
        current = cause
    return outer


def cert_error(message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, f"certificate verify failed: {message}")
    error.verify_message = message
    error.verify_code = 10
    return error


def page(title: str | None = "Annual report 2019", text: str = "The annual report.") -> PageFacts:
    return PageFacts(title=title, heading=title, text=text, fingerprint="f1", is_html=True)


# --- answers ---------------------------------------------------------------------------------


def test_200_is_ok() -> None:
    verdict = classify(facts(answered(200)))
    assert verdict.outcome is Outcome.OK
    assert "200" in verdict.reason


def test_head_405_then_get_200_is_ok_and_reason_names_both() -> None:
    verdict = classify(facts(answered(405, method="HEAD"), answered(200)))
    assert verdict.outcome is Outcome.OK
    assert "HEAD 405" in verdict.reason and "GET 200" in verdict.reason


def test_reason_counts_retries_with_their_retry_after() -> None:
    get = answered(200)
    get = Exchange("GET", get.chain, get.answer, retries=(RetryNote("503", 1.0, 1.0),))
    verdict = classify(facts(answered(405, method="HEAD"), get))
    assert verdict.outcome is Outcome.OK
    assert "1 retry" in verdict.reason and "Retry-After" in verdict.reason


def test_304_is_ok() -> None:
    assert classify(facts(answered(304))).outcome is Outcome.OK


def test_a_304_after_a_permanent_redirect_is_still_a_redirect_to_fix() -> None:
    """On a fingerprint night the moved page answers 304 (our copy of it is current): the
    entry still points at the old address and must stay in the queue."""
    fingerprint_night = replace(redirected((URL, 301), (NEW, 304)), conditional=True)
    verdict = classify(facts(fingerprint_night))
    assert verdict.outcome is Outcome.REDIRECTED_PERMANENT
    assert NEW in verdict.reason and "unchanged since the last check" in verdict.reason


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_304_to_a_request_that_named_no_copy_is_not_unchanged(method: str) -> None:
    """ "Unchanged since the last check" was said of a 304 to a request with no validators,
    even with no last check: the server sent no page, and the verdict says so."""
    verdict = classify(facts(answered(304, method=method)))
    assert verdict.outcome is Outcome.OK
    assert "unchanged" not in verdict.reason
    assert verdict.reason == (
        f"{method} 304: the page answers 'not modified' though the request named no copy "
        "to compare with, and sends no page."
    )
    conditional = replace(answered(304, method=method), conditional=True)
    assert classify(facts(conditional)).reason == f"{method} 304: unchanged since the last check."


def test_a_304_after_a_redirect_to_a_request_that_named_no_copy_says_so() -> None:
    verdict = classify(facts(redirected((URL, 302), (NEW, 304))))
    assert verdict.outcome is Outcome.OK
    assert "unchanged" not in verdict.reason and "named no copy" in verdict.reason


def test_a_304_after_a_temporary_redirect_is_ok() -> None:
    verdict = classify(facts(redirected((URL, 302), (NEW, 304))))
    assert verdict.outcome is Outcome.OK
    assert "Redirected temporarily" in verdict.reason


def test_a_304_after_a_redirect_to_the_home_page_is_a_soft_404() -> None:
    verdict = classify(facts(redirected((URL, 301), ("https://example.org/", 304))))
    assert verdict.outcome is Outcome.SOFT_404


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (404, Outcome.NOT_FOUND),
        (410, Outcome.GONE),
        (500, Outcome.HTTP_ERROR),
        (400, Outcome.HTTP_ERROR),
        (403, Outcome.HTTP_ERROR),
        (503, Outcome.HTTP_ERROR),
        (429, Outcome.RATE_LIMITED),
        (999, Outcome.BLOCKED),
        (401, Outcome.BLOCKED),
        (402, Outcome.BLOCKED),
        (407, Outcome.BLOCKED),
    ],
)
def test_status_decides_outcome(status: int, outcome: Outcome) -> None:
    assert classify(facts(answered(status))).outcome is outcome


def test_too_long_retry_after_is_named_in_the_reason() -> None:
    exchange = answered(429)
    exchange = Exchange("GET", exchange.chain, exchange.answer, refused_wait=3600.0)
    verdict = classify(facts(exchange))
    assert verdict.outcome is Outcome.RATE_LIMITED
    assert "3600" in verdict.reason


def test_503_asking_for_a_longer_wait_than_a_check_allows_is_no_failure() -> None:
    """ "Unavailable, come back in an hour" was an HTTP error, toward a confirmed break; a
    503 the check did come back for, as asked, and met again still is one."""
    exchange = answered(503)
    refused = Exchange("GET", exchange.chain, exchange.answer, refused_wait=3600.0)
    verdict = classify(facts(refused))
    assert verdict.outcome is Outcome.RATE_LIMITED
    assert "3600" in verdict.reason
    assert classify(facts(answered(503))).outcome is Outcome.HTTP_ERROR


def test_redirect_status_without_location_is_an_http_error() -> None:
    assert classify(facts(answered(302))).outcome is Outcome.HTTP_ERROR


# --- bot walls -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (403, {"cf-mitigated": "challenge", "server": "cloudflare"}, b""),
        (503, {"server": "cloudflare"}, b"<title>Just a moment...</title> challenge-platform"),
        (403, {"x-amzn-waf-action": "captcha"}, b""),
        (202, {"x-amzn-waf-action": "challenge"}, b""),
        (403, {"server": "AkamaiGHost"}, b"Access Denied. Reference #18.abc"),
    ],
)
def test_bot_challenge_is_blocked_never_broken(status: int, headers, body: bytes) -> None:
    verdict = classify(facts(answered(status, headers=headers, body=body)))
    assert verdict.outcome is Outcome.BLOCKED
    assert not verdict.outcome.is_failure


def test_a_header_quoted_in_the_reason_cannot_drive_a_terminal() -> None:
    """The reason is printed by `linkhealth resource` and `recheck`; llhttp lets ESC and
    BEL through in header values, so the header's text must not reach the reason as is."""
    headers = httpx.Headers(
        [(b"x-amzn-waf-action", b"captcha\x1b]0;owned\x07\x1b[2J" + b"x" * 500)]
    )
    verdict = classify(facts(answered(403, headers=headers)))
    assert verdict.outcome is Outcome.BLOCKED and "captcha" in verdict.reason
    assert verdict.reason.isprintable() and len(verdict.reason) < 200


def test_cloudflare_server_alone_is_not_a_challenge() -> None:
    assert blocked_reason(403, httpx.Headers({"server": "cloudflare"}), b"Forbidden") is None


def test_a_403_with_a_password_form_is_a_login_wall_not_a_broken_link() -> None:
    """AEquitas answered its resource page with "Log in - AEquitas" and 403: the report
    said "Wait: it may recover by itself", of a wall that never will."""
    form = b'<title>Log in</title><form><input type="email"><INPUT Type=password name=pw>'
    assert blocked_reason(403, httpx.Headers(), form) == (
        "it asks for a login (403, with a password form)"
    )
    # A bare 403, or one that only mentions passwords, stays an error.
    assert blocked_reason(403, httpx.Headers(), b"<p>Forbidden. Reset your password.</p>") is None
    assert blocked_reason(404, httpx.Headers(), form) is None
    # A removed page's 403 beside the site's login box (on every page) is an error still.
    sidebar = b'<title>Access denied</title><aside><input type="password"></aside>'
    assert blocked_reason(403, httpx.Headers(), sidebar) is None


def test_plain_202_is_ok() -> None:
    assert classify(facts(answered(202))).outcome is Outcome.OK


# --- redirects -------------------------------------------------------------------------------


def test_permanent_redirect_suggests_new_url_in_reason() -> None:
    verdict = classify(facts(redirected((URL, 301), (NEW, 200))))
    assert verdict.outcome is Outcome.REDIRECTED_PERMANENT
    assert NEW in verdict.reason and "301" in verdict.reason


@pytest.mark.parametrize("status", [301, 308])
def test_permanent_redirect_anywhere_in_chain_counts(status: int) -> None:
    chain = redirected((URL, 302), (NEW, status), (NEW + "?v=2", 200))
    assert classify(facts(chain)).outcome is Outcome.REDIRECTED_PERMANENT


@pytest.mark.parametrize("status", [302, 303, 307])
def test_temporary_redirect_is_ok(status: int) -> None:
    verdict = classify(facts(redirected((URL, status), (NEW, 200))))
    assert verdict.outcome is Outcome.OK
    assert NEW in verdict.reason


def test_redirect_to_404_is_redirect_to_error_naming_the_status() -> None:
    verdict = classify(facts(redirected((URL, 301), (NEW, 404))))
    assert verdict.outcome is Outcome.REDIRECT_TO_ERROR
    assert "404" in verdict.reason


def test_redirect_loop_and_too_many_redirects() -> None:
    loop = Exchange(
        "GET",
        chain=(Hop(URL, 302), Hop(NEW, 302)),
        stop=Stop.REDIRECT_LOOP,
        stop_url=URL,
    )
    assert classify(facts(loop)).outcome is Outcome.REDIRECT_LOOP
    many = Exchange(
        "GET",
        chain=tuple(Hop(f"{URL}?{i}", 302) for i in range(11)),
        stop=Stop.TOO_MANY_REDIRECTS,
        stop_url=f"{URL}?11",
    )
    assert classify(facts(many)).outcome is Outcome.TOO_MANY_REDIRECTS


def test_redirect_to_a_non_web_address_is_redirect_to_error() -> None:
    bad = Exchange(
        "GET",
        chain=(Hop(URL, 302),),
        stop=Stop.BAD_LOCATION,
        stop_url="ftp://example.org/x",
        stop_detail="the scheme 'ftp' is not a web address",
    )
    assert classify(facts(bad)).outcome is Outcome.REDIRECT_TO_ERROR


def test_private_address_first_hop_and_after_redirect() -> None:
    first = Exchange("GET", stop=Stop.PRIVATE, stop_url=URL, stop_detail="127.0.0.1 is loopback")
    assert classify(facts(first)).outcome is Outcome.PRIVATE_ADDRESS
    later = Exchange(
        "GET",
        chain=(Hop(URL, 302),),
        stop=Stop.PRIVATE,
        stop_url="http://10.0.0.1/",
        stop_detail="10.0.0.1 is private",
    )
    verdict = classify(facts(later))
    assert verdict.outcome is Outcome.PRIVATE_ADDRESS
    assert "10.0.0.1" in verdict.reason


def test_our_own_dns_failure_is_dns_error() -> None:
    stop = Exchange(
        "GET", stop=Stop.UNRESOLVED, stop_url=URL, error=socket.gaierror(socket.EAI_NONAME, "x")
    )
    assert classify(facts(stop)).outcome is Outcome.DNS_ERROR


# --- soft 404 --------------------------------------------------------------------------------


def test_deep_link_redirected_to_home_page_is_soft_404() -> None:
    chain = redirected((URL, 302), ("https://example.org/", 200))
    assert classify(facts(chain)).outcome is Outcome.SOFT_404


@pytest.mark.parametrize("status", [301, 302, 308])
@pytest.mark.parametrize(
    "home", ["https://example.org/?utm_source=old-site", "https://example.org/Pages/default.aspx"]
)
def test_deep_link_redirected_to_a_home_page_with_a_query_is_a_soft_404(
    status: int, home: str
) -> None:
    """A 301 was "moved permanently" (switch to the home page), a 302 plain "OK"."""
    verdict = classify(facts(redirected((URL, status), (home, 200))))
    assert verdict.outcome is Outcome.SOFT_404
    assert "home page" in verdict.reason


def test_deep_link_moved_to_another_deep_link_with_a_query_is_still_a_move() -> None:
    moved = "https://example.org/publications?id=2019-annual"
    assert classify(facts(redirected((URL, 301), (moved, 200)))).outcome is (
        Outcome.REDIRECTED_PERMANENT
    )
    home = "https://example.org/"
    to_language = redirected((home, 301), ("https://example.org/?lang=en", 200))
    assert classify(facts(to_language, url=home)).outcome is not Outcome.SOFT_404


def test_page_titled_not_found_is_soft_404() -> None:
    found = facts(answered(200), page=page("Page not found", "Sorry, we could not find that."))
    assert classify(found).outcome is Outcome.SOFT_404


def test_home_page_is_never_a_soft_404() -> None:
    home = "https://example.org/"
    verdict = classify(facts(answered(200, url=home), url=home, page=page("Page not found")))
    assert verdict.outcome is Outcome.OK


def test_page_like_the_hosts_made_up_url_is_soft_404() -> None:
    generic = page("Example", "Welcome to example. " * 50)
    probe = Probe("https://example.org/zz-no-such-page", 200, generic)
    verdict = classify(facts(answered(200), page=generic, probe=probe))
    assert verdict.outcome is Outcome.SOFT_404


@pytest.mark.parametrize(
    "home",
    ["https://example.org/en/", "https://example.org/index.php", "https://example.org/?lang=en"],
)
def test_a_home_page_like_the_hosts_made_up_url_is_ok(home: str) -> None:
    """A site answering unknown addresses with its home page; "/" alone was spared."""
    generic = page("Example", "Welcome to example. " * 50)
    probe = Probe("https://example.org/zz-no-such-page", 200, generic)
    verdict = classify(facts(answered(200, url=home), url=home, page=generic, probe=probe))
    assert verdict.outcome is Outcome.OK, verdict.reason


def test_page_unlike_the_probe_is_ok() -> None:
    real = page("Annual report 2019", "Findings on trafficking cases in 2019. " * 30)
    probe = Probe("https://example.org/zz", 404, None)
    assert classify(facts(answered(200), page=real, probe=probe)).outcome is Outcome.OK


def test_a_script_shell_like_the_probe_is_ok_but_says_it_could_not_be_verified() -> None:
    shell = PageFacts("App", None, "A project of the partnership.", "f1", True, None, True)
    probe = Probe("https://example.org/reports/linkhealth-probe-x", 200, shell)
    verdict = classify(facts(answered(200), page=shell, probe=probe))
    assert verdict.outcome is Outcome.OK
    assert "built by script" in verdict.reason and "could not be verified" in verdict.reason


def test_a_title_naming_the_entry_is_no_soft_404() -> None:
    title = "Nothing Here | Stories of Survivors"
    found = facts(answered(200), page=page(title, "Stories. " * 40))
    assert classify(found).outcome is Outcome.SOFT_404  # the site's name, as far as we know
    entry = facts(answered(200), page=page(title, "Stories. " * 40), entry_titles=(title,))
    assert classify(entry).outcome is Outcome.OK


# --- login walls -----------------------------------------------------------------------------

MEMBERS = "https://example.org/members/report"


@pytest.mark.parametrize(
    "login",
    [
        "https://example.org/login?next=/members/report",
        "https://example.org/Account/Login.aspx?ReturnUrl=%2fmembers%2freport",
        "https://example.org/users/sign_in",
        "https://example.org/wp-login.php?redirect_to=https%3A%2F%2Fexample.org%2Fmembers%2Freport",
        "https://sso.example.org/cas/login?service=https%3A%2F%2Fexample.org%2Fmembers%2Freport",
        "https://idp.example.org/idp/profile/SAML2/Redirect/SSO?execution=e1s1",
        "https://login.example.com/common/oauth2/authorize?client_id=1",
        "https://example.org/auth/realms/staff/protocol/openid-connect/auth",
    ],
)
def test_a_redirect_to_a_login_page_is_blocked(login: str) -> None:
    """302 -> /login?next=... then 200 was "ok": the resource is behind a login."""
    chain = redirected((MEMBERS, 302), (login, 200))
    verdict = classify(facts(chain, url=MEMBERS, page=page("Sign in", "Email Password")))
    assert verdict.outcome is Outcome.BLOCKED
    assert "login page" in verdict.reason


@pytest.mark.parametrize(
    ("url", "hops"),
    [
        pytest.param(
            "https://example.org/help/login",
            [("https://example.org/help/login", 200)],
            id="the-catalog-lists-the-login-page",
        ),
        pytest.param(
            "https://example.org/login",
            [("https://example.org/login", 301), ("https://example.org/login/", 200)],
            id="the-login-page-moved-a-slash",
        ),
        pytest.param(
            MEMBERS,
            [(MEMBERS, 302), ("https://example.org/authors/auth-jones", 200)],
            id="an-author-page",
        ),
        pytest.param(
            MEMBERS,
            [(MEMBERS, 302), ("https://example.org/help/login-help", 200)],
            id="an-article-about-logging-in",
        ),
        pytest.param(
            MEMBERS,
            [(MEMBERS, 302), ("https://example.org/sso?next=/x", 302), (MEMBERS, 200)],
            id="a-sign-in-dance-back-to-the-page",
        ),
        pytest.param(
            MEMBERS,
            [(MEMBERS, 302), ("https://example.org/list?next=/members/page2", 200)],
            id="a-next-parameter-for-another-page",
        ),
        pytest.param(  # from the EU, every YouTube link passes Google's consent page
            "https://www.youtube.com/watch?v=abc",
            [
                ("https://www.youtube.com/watch?v=abc", 302),
                ("https://consent.youtube.com/m?continue=https://www.youtube.com/watch?v=abc", 200),
            ],
            id="a-cookie-consent-page",
        ),
        pytest.param(
            MEMBERS,
            [(MEMBERS, 302), ("https://example.org/region?redirect=/members/report", 200)],
            id="a-region-chooser",
        ),
        pytest.param(
            MEMBERS,
            [
                (MEMBERS, 302),
                ("https://example.org/login?next=/x", 302),
                ("https://example.org/reports/members", 200),
            ],
            id="a-login-page-passed-on-the-way-elsewhere",
        ),
    ],
)
def test_login_words_without_a_login_wall_are_no_block(
    url: str, hops: list[tuple[str, int]]
) -> None:
    chain = redirected(*hops) if len(hops) > 1 else answered(200, url=url)
    verdict = classify(facts(chain, url=url, page=page("Report", "The report. " * 30)))
    assert verdict.outcome in (Outcome.OK, Outcome.REDIRECTED_PERMANENT)


# --- refreshes -------------------------------------------------------------------------------


def refreshing(content: str) -> PageFacts:
    return PageFacts("Redirecting", "Redirecting", "Please wait", "f1", True, content)


@pytest.mark.parametrize(
    "content",
    ["0; url=/errors/404.html", "0;URL='/errors/404.html'", "3, url=https://example.org/404"],
)
def test_a_meta_refresh_to_an_error_page_is_a_soft_404(content: str) -> None:
    verdict = classify(facts(answered(200), page=refreshing(content)))
    assert verdict.outcome is Outcome.SOFT_404
    assert "meta refresh" in verdict.reason and "error page" in verdict.reason


def test_a_refresh_header_to_the_home_page_is_a_soft_404() -> None:
    answer = answered(200, headers={"Refresh": "0; url=https://example.org/"})
    verdict = classify(facts(answer, page=page("Moved", "This page has moved.")))
    assert verdict.outcome is Outcome.SOFT_404
    assert "Refresh header" in verdict.reason and "home page" in verdict.reason


def login_form(title: str = "Log in") -> PageFacts:
    return PageFacts(title, title, "Email Password", "f1", True, login_form=True)


@pytest.mark.parametrize(
    ("url", "wall"),
    [
        ("https://example.org/node/5", "https://example.org/user?destination=/node/5"),
        (MEMBERS, "https://example.org/members?ReturnUrl=%2Fmembers%2Freport"),
    ],
)
def test_a_return_to_parameter_beside_a_password_field_is_a_login_wall(url: str, wall: str) -> None:
    """Drupal's "/user?destination=/node/5" names no login segment: the form tells."""
    chain = redirected((url, 302), (wall, 200))
    assert classify(facts(chain, url=url, page=login_form())).outcome is Outcome.BLOCKED
    plain = page("Choose your region", "Europe, Americas")  # no password field: a chooser
    assert classify(facts(chain, url=url, page=plain)).outcome is not Outcome.BLOCKED


def test_a_temporary_way_to_a_login_page_with_a_slash_added_is_still_a_wall() -> None:
    """302 to "/login?next=…", then Django's 301 to "/login/?next=…": judged by the last
    hop alone it was a permanent move, and `accept-redirect` would have linked the login."""
    chain = redirected(
        (MEMBERS, 302),
        ("https://example.org/login?next=/members/report", 301),
        ("https://example.org/login/?next=/members/report", 200),
    )
    assert classify(facts(chain, url=MEMBERS)).outcome is Outcome.BLOCKED


@pytest.mark.parametrize(
    "docs",
    [
        "https://example.org/sso/overview",
        "https://example.org/help/sign-in/troubleshoot",
        "https://example.org/docs/auth/guide?ref=menu",
    ],
)
def test_a_temporary_redirect_to_documentation_under_a_login_folder_is_no_wall(
    docs: str,
) -> None:
    """Only the page's own segment says "login": a short link's 302 to "/sso/overview"
    documentation was "blocked"."""
    chain = redirected(("https://example.org/go/sso", 302), (docs, 200))
    verdict = classify(facts(chain, url="https://example.org/go/sso"))
    assert verdict.outcome is not Outcome.BLOCKED


def test_a_sign_in_folder_with_a_way_back_is_a_wall() -> None:
    """Google's "/v3/signin/identifier?continue=…" ends in no login segment of its own."""
    wall = "https://accounts.example.com/v3/signin/identifier?continue=" + MEMBERS
    chain = redirected((MEMBERS, 302), (wall, 200))
    assert classify(facts(chain, url=MEMBERS)).outcome is Outcome.BLOCKED


@pytest.mark.parametrize(
    ("title", "words", "login"),
    [
        ("Secure Logon for F5 Networks", 20, True),
        ("Iniciar sesión | Portal", 400, True),
        ("Single sign-on for students | IT", 400, False),  # a page about it, sidebar box
        ("Acceso a la Información", 400, False),
        ("Victim Identification Toolkit", 400, False),
    ],
)
def test_a_login_form_is_told_by_a_title_part_that_only_says_log_in(
    title: str, words: int, login: bool
) -> None:
    body = f"<title>{title}</title><aside><input type=password></aside><p>{'word ' * words}</p>"
    assert analyse_body(body.encode(), "text/html", truncated=False).login_form is login


def test_a_saml_hand_off_is_the_way_to_a_login_page() -> None:
    body = (
        b'<body onload="document.forms[0].submit()"><form method="post" '
        b'action="https://idp.example.org/sso"><input type="hidden" name="SAMLRequest" '
        b'value="PHNhbWxwOkF1dGhu"></form></body>'
    )
    handoff = analyse_body(body, "text/html", truncated=False)
    chain = redirected((MEMBERS, 302), ("https://example.org/saml/post", 200))
    assert classify(facts(chain, url=MEMBERS, page=handoff)).outcome is Outcome.BLOCKED
    about = b"<title>SAML</title><p>The SP sends a SAMLRequest to the IdP.</p>"
    assert not analyse_body(about, "text/html", truncated=False).login_form


def test_a_403_titled_as_a_page_is_no_login_wall_beside_a_sidebar_form() -> None:
    for title in (b"Error 403 - Acceso a la Informacion", b"Forbidden - Victim Identification"):
        page_403 = b"<title>" + title + b"</title><aside><input type=password></aside>"
        assert blocked_reason(403, httpx.Headers(), page_403) is None


def test_a_catalog_url_of_a_login_index_page_is_the_login_page() -> None:
    url = "https://moodle.example.org/login/index.php"
    chain = redirected((url, 303), ("https://idp.example.org/idp/profile/SAML2/Redirect/SSO", 200))
    assert classify(facts(chain, url=url, page=login_form())).outcome is not Outcome.BLOCKED


@pytest.mark.parametrize(
    "about", ["/topics/sso", "/docs/oauth2", "/help/login.gov", "/grants/authorize"]
)
def test_a_permanent_move_to_a_page_about_logging_in_is_a_move(about: str) -> None:
    """A 301 to "/topics/sso" was "blocked", and its new address was never offered."""
    chain = redirected((MEMBERS, 301), (f"https://example.org{about}", 200))
    verdict = classify(facts(chain, url=MEMBERS, page=page("Single sign-on", "About SSO.")))
    assert verdict.outcome is Outcome.REDIRECTED_PERMANENT


def test_a_temporary_redirect_to_a_login_path_is_a_wall_even_on_a_head_night() -> None:
    chain = redirected((MEMBERS, 302), ("https://example.org/login?next=/x", 200))
    assert classify(facts(chain, url=MEMBERS)).outcome is Outcome.BLOCKED  # no page read


def test_a_catalog_url_under_a_login_like_folder_can_still_meet_a_wall() -> None:
    """Only a catalog URL that is a login page itself is spared: "/auth/reports/guide" is
    a report, and its redirect to "/login" a wall."""
    url = "https://example.org/auth/reports/guide"
    chain = redirected((url, 302), ("https://example.org/login?next=/auth/reports/guide", 200))
    assert classify(facts(chain, url=url, page=login_form())).outcome is Outcome.BLOCKED


def test_a_meta_refresh_to_a_login_page_is_blocked() -> None:
    verdict = classify(facts(answered(200), page=refreshing("0; url=/login?next=/x")))
    assert verdict.outcome is Outcome.BLOCKED


def test_a_meta_refresh_to_another_page_is_named_in_the_reason() -> None:
    verdict = classify(facts(answered(200), page=refreshing("1; url=/reports/2019-final.pdf")))
    assert verdict.outcome is Outcome.OK
    assert "https://example.org/reports/2019-final.pdf" in verdict.reason
    assert "not checked" in verdict.reason


@pytest.mark.parametrize(
    "content", ["300", "60; url=/", "0; url=/reports/2019.pdf", "0; url=javascript:alert(1)"]
)
def test_a_reload_a_slow_refresh_or_a_refresh_to_itself_is_ignored(content: str) -> None:
    """On a page that announces no move (a slow refresh under "Page moved" is one)."""
    report = page()
    verdict = classify(facts(answered(200), page=replace(report, refresh=content)))
    assert verdict == classify(facts(answered(200), page=report))


def served(markup: str) -> tuple[Exchange, PageFacts]:
    """The answer and the page facts of an HTML page at URL, as the checker reads them."""
    body = markup.encode()
    answer = answered(200, headers={"Content-Type": "text/html"}, body=body)
    return answer, analyse_body(body, "text/html", truncated=False)


MOVED_SLOWLY = (
    '<title>Page Moved</title><meta http-equiv="refresh" content="10; url=/"><p>This page has '
    "moved. You will be redirected to our home page in 10 seconds.</p>"
)


def test_a_slow_refresh_to_the_home_page_under_a_moved_notice_is_a_soft_404() -> None:
    """Refreshes over 5 s were ignored whatever the page said: a notice that the page has
    moved, forwarding to the home page in 10 s, was "OK" (a 0 s one a soft 404)."""
    answer, moved = served(MOVED_SLOWLY)
    verdict = classify(facts(answer, page=moved))
    assert verdict.outcome is Outcome.SOFT_404
    assert "home page" in verdict.reason and "meta refresh after 10 s" in verdict.reason


@pytest.mark.parametrize(
    "markup",
    [
        '<title>Redirecting...</title><script>window.location.replace("/");</script>',
        '<title>Page moved</title><script>setTimeout(function(){window.location.href="/"}, '
        "3000)</script><p>This resource has moved. Redirecting you to the home page.</p>",
        "<title>Annual report</title><h1>This page has moved</h1>"
        "<script>location.href = 'https://example.org/';</script>",
        "<title>Report</title><p>You will be redirected shortly.</p>"
        "<script>document.location.assign('/errors/404.html')</script>",
        # a named function that a timer or the page's opening calls (r6)
        "<title>Page moved</title><script>function redirect(){ window.location.href = '/'; }"
        "\nsetTimeout(redirect, 5000);</script><p>This page has moved.</p>",
        '<title>Page moved</title><script>function go(){ location.href = "/"; }</script>'
        '<body onload="go()"><p>This page has moved.</p>',
    ],
)
def test_a_script_sending_a_moved_notice_to_the_home_or_error_page_is_a_soft_404(
    markup: str,
) -> None:
    answer, moved = served(markup)
    verdict = classify(facts(answer, page=moved))
    assert verdict.outcome is Outcome.SOFT_404
    assert "script" in verdict.reason


ARTICLE = (
    "<title>Annual report 2019</title><h1>Annual report 2019</h1><p>{text}</p><script>"
    "gtag('config', 'G-1', {{page_location: window.location.href}});"
    "if (location.hostname !== 'example.org') {{ console.log(location.pathname); }}"
    "function goHome() {{ window.location.href = '/'; }}"
    "var next = location.href.replace('http:', 'https:');</script>"
)


@pytest.mark.parametrize(
    "text",
    [
        "Findings on victim services for human trafficking survivors.",
        "Redirecting funds to victims: the office has moved to Main Street.",
    ],
)
def test_an_ordinary_page_whose_scripts_mention_the_location_is_ok(text: str) -> None:
    """Analytics, a home button's handler, a comparison: no redirect on a page that
    announces none, even one whose text speaks of moving and redirecting."""
    answer, article = served(ARTICLE.format(text=text))
    verdict = classify(facts(answer, page=article))
    assert verdict.outcome is Outcome.OK
    assert verdict.reason == "GET 200"


@pytest.mark.parametrize(
    ("markup", "where"),
    [
        (
            "<title>Redirecting</title><script>location.replace('/reports/2019-final.pdf')"
            "</script>",
            "https://example.org/reports/2019-final.pdf",
        ),
        (MOVED_SLOWLY.replace("url=/", "url=/reports/2019-final"), "/reports/2019-final"),
    ],
)
def test_a_moved_notice_forwarding_to_another_page_names_it(markup: str, where: str) -> None:
    answer, moved = served(markup)
    verdict = classify(facts(answer, page=moved))
    assert verdict.outcome is Outcome.OK
    assert where in verdict.reason and "not checked" in verdict.reason


def test_a_moved_notice_whose_script_builds_the_address_is_not_read() -> None:
    answer, moved = served(
        "<title>Redirecting...</title><script>window.location = '/' + lang;</script>"
    )
    assert classify(facts(answer, page=moved)).reason == "GET 200"


#: A hotline's page (r5): a "Quick Exit" safety button whose handler sends the visitor to
#: Google, and the sentence saying so ("you will be redirected to Google").
HOTLINE = (
    "<title>National Human Trafficking Hotline | Get Help</title><script>function quickExit()"
    '{ window.location.replace("https://www.google.com"); }</script><div class="safety">Safety '
    "alert: computer use can be monitored. Click Quick Exit at any time and you will be "
    'redirected to Google. <button onclick="quickExit()">Quick Exit</button></div><h1>Get help'
    "</h1><p>The National Human Trafficking Hotline connects victims and survivors of sex and "
    "labor trafficking with services and supports to get help and stay safe. Call "
    "1-888-373-7888, text 233733, or chat live. The Hotline is confidential, available 24 "
    "hours a day, 7 days a week, in more than 200 languages. We also receive tips about "
    "potential situations of trafficking and facilitate reporting that information to the "
    "appropriate authorities in certain cases.</p>"
)


@pytest.mark.parametrize(
    "markup",
    [
        pytest.param(HOTLINE, id="google"),
        pytest.param(
            HOTLINE.replace(
                'window.location.replace("https://www.google.com")',
                'window.location.href = "https://www.google.com/search?q=weather"',
            ),
            id="google-search",
        ),
        pytest.param(
            HOTLINE.replace("redirected to Google", "taken to weather.com").replace(
                "https://www.google.com", "https://weather.com/"
            ),
            id="weather",
        ),
    ],
)
def test_a_hotline_page_with_a_quick_exit_button_is_ok(markup: str) -> None:
    """It was a soft 404 ("redirected to the home page of www.google.com … by a script on
    the page"): the hotline's link confirmed broken."""
    answer, hotline = served(markup)
    verdict = classify(facts(answer, page=hotline))
    assert verdict.outcome is Outcome.OK
    assert verdict.reason == "GET 200"


def test_a_form_whose_session_times_out_to_the_home_page_is_ok() -> None:
    """A 20-minute refresh to "/" and "you will be redirected to the home page" was a soft
    404: the form is the resource, and no reader waits 20 minutes to be forwarded."""
    answer, form = served(
        '<title>Submit a Tip | Human Trafficking Tip Line</title><meta http-equiv="refresh" '
        'content="1200;url=/"><h1>Submit a tip</h1><p>For your security, this form times out '
        "after 20 minutes of inactivity and you will be redirected to the home page; anything "
        "you typed is discarded.</p><form><label>What did you see?</label><textarea></textarea>"
        "<p>Tips about potential human trafficking are reviewed by trained staff and may be "
        "shared with law enforcement. You may submit anonymously. If someone is in immediate "
        "danger, call 911.</p></form>"
    )
    verdict = classify(facts(answer, page=form))
    assert verdict.outcome is Outcome.OK
    assert verdict.reason == "GET 200"


@pytest.mark.parametrize(
    "markup",
    [
        # a notice, but its refresh is slower than anyone waits for (a session's end)
        pytest.param(MOVED_SLOWLY.replace('"10; url=/"', '"120; url=/"'), id="refresh-120-s"),
        # a notice whose script runs on a click only
        pytest.param(
            "<title>Redirecting...</title><p>You will be redirected to the home page.</p>"
            '<script>document.getElementById("go").addEventListener("click", function () '
            '{ window.location.replace("/"); });</script>',
            id="click-handler",
        ),
        pytest.param(
            "<title>Page moved</title><p>This page has moved.</p><script>function go() "
            "{ location.href = '/'; }</script>",
            id="named-function",
        ),
        # a notice forwarding to another site: a safety button, not this site's home page
        pytest.param(
            "<title>Redirecting...</title><script>location.replace('https://www.google.com/')"
            "</script>",
            id="another-site",
        ),
        # a page with much more to say than a notice, whose script runs on load
        pytest.param(
            "<title>Annual report 2019</title><p>This page has moved. "
            + "Findings on victim services for human trafficking survivors. " * 8
            + "</p><script>location.replace('/');</script>",
            id="article",
        ),
    ],
)
def test_only_a_forwarding_notice_that_sends_on_at_once_to_its_own_site_is_read(
    markup: str,
) -> None:
    """Each of these was a soft 404 (a slow refresh or a script under a "moved" phrase)."""
    answer, notice = served(markup)
    assert classify(facts(answer, page=notice)).reason == "GET 200"


@pytest.mark.parametrize(
    "script",
    [
        "if (document.referrer) { window.location.replace('/'); }",
        "window.onload = function () { location.href = '/'; };",
        "window.addEventListener('DOMContentLoaded', () => { location.assign('/'); });",
        "(function () { window.location = 'https://www.example.org/'; })();",
        "setTimeout(() => location.replace('/'), 3000);",
    ],
)
def test_a_notice_whose_script_runs_when_the_page_opens_is_read(script: str) -> None:
    answer, notice = served(
        f"<title>Page moved</title><p>This page has moved.</p><script>{script}</script>"
    )
    verdict = classify(facts(answer, page=notice))
    assert verdict.outcome is Outcome.SOFT_404
    assert "by a script on the page" in verdict.reason


# --- failures without an answer --------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (httpx.ConnectTimeout("timed out"), Outcome.TIMEOUT),
        (httpx.ReadTimeout("timed out"), Outcome.TIMEOUT),
        (
            raised_from(httpx.ConnectError("x"), socket.gaierror(socket.EAI_NONAME, "unknown")),
            Outcome.DNS_ERROR,
        ),
        (
            raised_from(httpx.ConnectError("x"), ConnectionRefusedError(111, "refused")),
            Outcome.CONNECTION_REFUSED,
        ),
        (
            raised_from(httpx.ReadError("x"), ConnectionResetError(104, "reset by peer")),
            Outcome.CONNECTION_RESET,
        ),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            Outcome.CONNECTION_RESET,
        ),
        (httpx.RemoteProtocolError("illegal header line"), Outcome.CONNECTION_ERROR),
        (
            raised_from(httpx.ConnectError("x"), OSError(101, "Network is unreachable")),
            Outcome.CONNECTION_ERROR,
        ),
        (raised_from(httpx.ConnectError("x"), ssl.SSLError(1, "handshake")), Outcome.TLS_ERROR),
        (httpx.UnsupportedProtocol("no"), Outcome.INVALID_URL),
        (RuntimeError("surprise"), Outcome.CONNECTION_ERROR),
    ],
)
def test_transport_failure_decides_outcome(error: BaseException, outcome: Outcome) -> None:
    assert classify(facts(failed(error))).outcome is outcome


def test_a_read_timeout_says_whether_the_answer_had_begun() -> None:
    """No status yet: a slow first byte, not an answer broken off."""
    silent = classify(facts(failed(httpx.ReadTimeout("t"))))
    assert silent.reason == (
        "GET no answer: the server took the request but did not begin to answer in time."
    )
    cut = Exchange("GET", chain=(Hop(URL, 200),), error=httpx.ReadTimeout("t"))
    assert classify(facts(cut)).reason == (
        "GET 200: the server stopped sending data before the answer was complete."
    )


@pytest.mark.parametrize(
    ("message", "word"),
    [
        ("certificate has expired", "expired"),
        ("Hostname mismatch, certificate is not valid for 'example.org'.", "host"),
        ("self-signed certificate", "self-signed"),
        ("self signed certificate in certificate chain", "self-signed"),
        ("unable to get local issuer certificate", "trust"),
    ],
)
def test_tls_failure_names_the_certificate_problem(message: str, word: str) -> None:
    error = raised_from(httpx.ConnectError("x"), cert_error(message))
    verdict = classify(facts(failed(error)))
    assert verdict.outcome is Outcome.TLS_ERROR
    assert word in verdict.reason


def test_a_malformed_answer_is_one_plain_clause_without_the_answer_in_it() -> None:
    # aiohttp's text for an answer whose body ran past its Content-Length: llhttp quotes
    # the rest of the page as bytes, with a caret line under it, over several lines.
    page = "Guía: the office closed in 2019; the archive is incomplete. " * 20
    dump = f"Bad status line:\n  Expected HTTP/:\n\n  b'{page}'\n" + " " * 800 + "^"
    failure = describe_error(httpx.RemoteProtocolError(dump))
    assert failure.kind is FailureKind.OTHER, "the page's words decide nothing"
    assert failure.sentence == (
        "the server sent a malformed HTTP answer (a first line that is not an HTTP status line)"
    )


@pytest.mark.parametrize(
    ("message", "flaw"),
    [
        ("Duplicate Content-Length:\n\n  b'Content-Length: 733'\n      ^", "two Content-Length"),
        ("conflicting Content-Length headers", "disagree"),
        ("400, message:\n  Invalid character in chunk size:\n\n  b'ZZ'\n    ^", "chunked"),
        ("illegal header line: bytearray(b'X: a\\x01')", "malformed headers"),
        ("Got more than 65536 bytes when reading: b'a=xxxx'", "too long"),
    ],
)
def test_a_malformed_answer_names_its_flaw(message: str, flaw: str) -> None:
    sentence = describe_error(httpx.RemoteProtocolError(message)).sentence
    assert flaw in sentence and "\n" not in sentence and "b'" not in sentence


def test_an_exceptions_own_text_is_quoted_on_one_short_line() -> None:
    sentence = describe_error(httpx.ConnectError("refused:\n" + "x" * 5000)).sentence
    assert "\n" not in sentence and len(sentence) < 200


def test_cause_is_found_through_context_as_well_as_cause() -> None:
    outer = httpx.ConnectError("x")
    outer.__context__ = cert_error("certificate has expired")
    assert describe_error(outer).kind is FailureKind.TLS


def test_deadline_is_a_timeout_saying_so() -> None:
    verdict = classify(facts(Exchange("GET", chain=(Hop(URL, None),)), deadline_exceeded=45.0))
    assert verdict.outcome is Outcome.TIMEOUT
    assert "45 s" in verdict.reason


def test_a_deadline_run_out_in_a_pause_the_host_asked_for_is_rate_limited() -> None:
    exchange = Exchange("GET", chain=(Hop(URL, 302),))
    verdict = classify(facts(exchange, deadline_exceeded=45.0, paused=29.0))
    assert verdict.outcome is Outcome.RATE_LIMITED
    assert verdict.reason == (
        "GET 302; the site asked us to pause our requests to it for 29 s (Retry-After), "
        "longer than the check can wait for one link."
    )


def test_a_reason_quotes_a_long_redirect_target_cut_in_the_middle() -> None:
    # A 30 KB Location was copied whole into the reason sentence.
    far = "https://example.org/docs/" + "x" * 30_000 + "/report.pdf"
    reasons = [
        classify(facts(redirected((URL, 302), (far, 200)))).reason,
        classify(facts(redirected((URL, 302), (far, 404)))).reason,
        classify(
            facts(
                Exchange(
                    "GET",
                    chain=(Hop(URL, 302),),
                    stop=Stop.BAD_LOCATION,
                    stop_url=far,
                    stop_detail="the address is too long",
                )
            )
        ).reason,
    ]
    for reason in reasons:
        assert len(reason) < 400, reason[:120]
        assert "https://example.org/docs/xx" in reason and "/report.pdf" in reason


def test_invalid_url_is_invalid() -> None:
    verdict = classify(CheckFacts(url="htp:/x", invalid=UrlProblem("the scheme is wrong")))
    assert verdict.outcome is Outcome.INVALID_URL


def test_every_outcome_but_our_own_network_is_reachable() -> None:
    """A new Outcome member needs a branch in classify (and an example here)."""
    examples = [
        facts(answered(200)),
        facts(redirected((URL, 301), (NEW, 200))),
        facts(answered(404)),
        facts(answered(410)),
        facts(answered(500)),
        facts(answered(200), page=page("404 Not Found")),
        facts(Exchange("GET", chain=(Hop(URL, 302),), stop=Stop.REDIRECT_LOOP, stop_url=URL)),
        facts(Exchange("GET", chain=(Hop(URL, 302),), stop=Stop.TOO_MANY_REDIRECTS)),
        facts(redirected((URL, 302), (NEW, 404))),
        facts(failed(httpx.ReadTimeout("t"))),
        facts(failed(raised_from(httpx.ConnectError("x"), socket.gaierror(-2, "n")))),
        facts(failed(raised_from(httpx.ConnectError("x"), ConnectionRefusedError()))),
        facts(failed(raised_from(httpx.ReadError("x"), ConnectionResetError()))),
        facts(failed(httpx.ConnectError("x"))),
        facts(failed(raised_from(httpx.ConnectError("x"), cert_error("self-signed certificate")))),
        facts(answered(999)),
        facts(answered(429)),
        CheckFacts(url="x", invalid=UrlProblem("bad")),
        facts(Exchange("GET", stop=Stop.PRIVATE, stop_url=URL, stop_detail="loopback")),
    ]
    reached = {classify(example).outcome for example in examples}
    assert reached == set(Outcome) - {Outcome.NETWORK_UNAVAILABLE}

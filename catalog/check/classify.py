"""Judge one URL: a pure function from gathered facts to an outcome and a reason.

Stage: check. Input: `CheckFacts` (every exchange, answer, exception, page facts and the
host's soft-404 probe). Output: `Verdict(outcome, reason)`, where `reason` is one sentence
a curator can read, e.g. "HEAD 405, GET 200 after 1 retry (503, Retry-After 1 s)".

Nothing here does I/O or reads the clock, so every verdict can be tested from plain
records. A new outcome is one member of `catalog.outcomes.Outcome` plus one branch here.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, assert_never
from urllib.parse import parse_qsl, urlsplit

import httpx

from catalog.check.content import is_login_title
from catalog.check.facts import Answer, CheckFacts, Exchange, RetryNote, Stop
from catalog.check.reasons import FailureKind, describe_error
from catalog.check.redirects import is_signed, moved_to, stable_url
from catalog.check.soft404 import (
    forwarding_notice,
    page_soft404,
    probe_soft404,
    redirect_soft404,
    script_redirect,
    unverified_shell,
    video_status,
)
from catalog.outcomes import Outcome
from catalog.text import clipped
from catalog.urls import site_host


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str


#: Login walls: the page exists, we are just not allowed to see it.
_LOGIN_STATUSES = {
    401: "it asks for a login (401)",
    402: "it asks for payment (402)",
    407: "it asks for proxy credentials (407)",
}
#: Text of bot-challenge pages (first 64 KiB, lower-cased), by vendor.
_CHALLENGE_TEXT = (
    b"challenge-platform",
    b"cf-browser-verification",
    b"cf-chl-",
    b"just a moment...",
    b"attention required! | cloudflare",
    b"_incapsula_resource",
    b"ddos-guard",
    b"sucuri website firewall",
    b"px-captcha",
    b"captcha-delivery.com",
    b"g-recaptcha",
    b"h-captcha",
    b"are you a robot",
    b"verify you are human",
)
#: Cloudflare's own 403 pages that turn a visitor away (1005-1010: banned network,
#: address, country or browser signature; 1012, 1020: access or firewall rule), as
#: against its 403s for a misconfigured site (1000-1004), which browsers get too, and an
#: origin's 403 passed through Cloudflare.
_CLOUDFLARE_CODE = re.compile(rb'cf-error-code">\s*(\d{4})\s*<|error code:?\s*(\d{4})')
_CLOUDFLARE_TURNED_AWAY = frozenset({1005, 1006, 1007, 1008, 1009, 1010, 1012, 1020})
_CHALLENGE_SERVERS = ("cloudflare", "ddos-guard", "sucuri", "akamaighost", "incapsula")
_SNIFF = 64 * 1024
#: Firewalls that answer 200 with a page of their own, by a phrase no resource is made
#: of: F5 BIG-IP ASM's "Request Rejected" (common on .gov sites) and Imperva's script-only
#: challenge. Only short bodies are read: a page quoting the phrase is a page.
_WALLS_ANSWERING_200 = (
    (b"the requested url was rejected. please consult with your administrator", "an F5 firewall"),
    (b"/_incapsula_resource?", "an Imperva (Incapsula) bot check"),
)
_SMALL_WALL = 8 * 1024


def blocked_reason(status: int, headers: Mapping[str, str], body: bytes) -> str | None:
    """Why this answer is bot protection or a login wall (never a broken link), or None."""
    if status == 999:
        return "it answers 999, the status some sites use to turn away automated checks"
    if status in _LOGIN_STATUSES:
        return _LOGIN_STATUSES[status]
    waf = headers.get("x-amzn-waf-action")
    if waf and (status == 202 or status >= 400):
        return f"an AWS WAF bot check answered ({_quoted(waf)}, {status})"
    if 200 <= status < 300 and 0 < len(body) <= _SMALL_WALL:
        text = body.lower()
        wall = next((vendor for marker, vendor in _WALLS_ANSWERING_200 if marker in text), None)
        if wall is not None:
            return f"{wall} answered in the page's place ({status})"
    if status not in (403, 429, 503):
        return None
    if (headers.get("cf-mitigated") or "").lower() == "challenge":
        return f"a Cloudflare bot challenge answered ({status})"
    server = (headers.get("server") or "").lower()
    text = body[:_SNIFF].lower()
    if any(marker in text for marker in _CHALLENGE_TEXT) and (
        status != 429 or any(name in server for name in _CHALLENGE_SERVERS)
    ):
        vendor = next((name for name in _CHALLENGE_SERVERS if name in server), "a bot check")
        return f"{vendor} answered with a challenge page ({status})"
    if status != 403:
        return None
    if "cloudflare" in server:
        code = _CLOUDFLARE_CODE.search(text)
        number = int(code.group(1) or code.group(2)) if code else None
        if number in _CLOUDFLARE_TURNED_AWAY or (
            number is None and b"used cloudflare to restrict access" in text
        ):
            detail = f"403, error {number}" if number else "403"
            return f"Cloudflare's firewall turned away the automated check ({detail})"
    if b"&#" in text:  # Akamai writes its page in entities: "Reference&#32;&#35;18&#46;..."
        text = html.unescape(text.decode("latin-1")).encode("latin-1", "replace")
    akamai = "akamaighost" in server or b"errors.edgesuite.net" in text
    if akamai and b"reference #" in text:
        return "Akamai turned away the automated check (403)"
    if _login_page(text):  # a login wall answered 403, not a broken page
        return "it asks for a login (403, with a password form)"
    return None


#: A password field and a title, in a lower-cased page. Bounded: `[^>]*` from each of
#: thousands of unclosed `<input` tags rescanned the page for each (22 s for 2 MB).
_PASSWORD_INPUT = re.compile(rb"<input\b[^>]{0,512}?\btype\s*=\s*[\"']?password\b")
_TITLE = re.compile(rb"<title[^>]{0,200}>([^<]{0,500})")


def _login_page(text: bytes) -> bool:
    """A login form under a title about logging in: a removed page's "Forbidden" with a
    sidebar's login box is an error still."""
    if b"password" not in text or _PASSWORD_INPUT.search(text) is None:
        return False
    title = _TITLE.search(text)
    return title is not None and is_login_title(title.group(1).decode("latin-1"))


def _quoted(value: str, limit: int = 40) -> str:
    """A header's text fit for a reason sentence, which terminals print (`linkhealth
    resource`): printable characters only (no escape sequences), and short."""
    return clipped("".join(ch for ch in value[: limit * 4] if ch.isprintable()).strip(), limit)


def classify(facts: CheckFacts) -> Verdict:
    if facts.invalid is not None:
        return Verdict(Outcome.INVALID_URL, f"Not requested: {facts.invalid.reason}.")
    if facts.internal_error is not None:
        return Verdict(
            Outcome.CONNECTION_ERROR,
            f"The checker itself failed on this URL ({facts.internal_error}); please report it.",
        )
    if facts.deadline_exceeded is not None:
        done = _journey(facts)
        prefix = f"{done}; " if done else ""
        if facts.paused is not None:
            return Verdict(
                Outcome.RATE_LIMITED,
                _capital(
                    f"{prefix}the site asked us to pause our requests to it for "
                    f"{_duration(facts.paused)} (Retry-After), longer than the check can "
                    "wait for one link."
                ),
            )
        return Verdict(
            Outcome.TIMEOUT,
            f"{prefix}no complete answer within {_seconds(facts.deadline_exceeded)} "
            "(the limit for one URL, retries and redirects included).",
        )
    last = facts.last
    if last is None:
        return Verdict(Outcome.CONNECTION_ERROR, "Nothing was requested.")
    if last.stop is not None:
        return _stopped(facts, last, last.stop)
    if last.error is not None or last.answer is None:
        return _failed(facts, last)
    verdict = _answered(facts, last, last.answer)
    if not last.answer.broken_off:
        return verdict
    note = "the server broke its answer off after the whole page had come (browsers show it)"
    return Verdict(verdict.outcome, f"{verdict.reason.removesuffix('.')}; {note}.")


def _stopped(facts: CheckFacts, last: Exchange, stop: Stop) -> Verdict:
    redirects = _codes(last)
    match stop:
        case Stop.PRIVATE:
            where = (
                f"It redirects ({redirects}) to {_short(last.stop_url or '')}, whose host"
                if last.chain
                else "The host"
            )
            return Verdict(
                Outcome.PRIVATE_ADDRESS,
                f"{where} points into a private network ({last.stop_detail}); not requested.",
            )
        case Stop.UNRESOLVED:
            where = (
                f"It redirects ({redirects}) to {_short(last.stop_url or '')}, but "
                if last.chain
                else ""
            )
            sentence = (
                describe_error(last.error).sentence
                if last.error is not None
                else "the host name has no address"
            )
            return Verdict(Outcome.DNS_ERROR, _capital(f"{where}{sentence}."))
        case Stop.REDIRECT_LOOP:
            return Verdict(
                Outcome.REDIRECT_LOOP,
                f"Redirect loop ({redirects}): it comes back to {_short(last.stop_url or '')}.",
            )
        case Stop.TOO_MANY_REDIRECTS:
            return Verdict(
                Outcome.TOO_MANY_REDIRECTS,
                f"Gave up after {len(last.chain)} redirects ({redirects}); still redirecting "
                f"to {_short(last.stop_url or '')}.",
            )
        case Stop.BAD_LOCATION:
            return Verdict(
                Outcome.REDIRECT_TO_ERROR,
                f"Redirects ({redirects}) to {_short(repr(last.stop_url))}, which cannot be opened "
                f"({_short(last.stop_detail or '')}).",
            )
        case _:
            assert_never(stop)


def _failed(facts: CheckFacts, last: Exchange) -> Verdict:
    failure = describe_error(last.error) if last.error is not None else None
    sentence = failure.sentence if failure else "no answer"
    if isinstance(last.error, httpx.ReadTimeout) and (
        not last.chain or last.chain[-1].status is None
    ):
        # No status came: the server never began to answer (a slow first byte), which
        # "stopped sending data before the answer was complete" misdescribed.
        sentence = "the server took the request but did not begin to answer in time"
    reason = f"{_journey(facts)}: {sentence}."
    if last.redirects:
        reason = f"{_journey(facts)}: after redirects to {_place(last.final_url)}, {sentence}."
    kind = failure.kind if failure else FailureKind.OTHER
    match kind:
        case FailureKind.TIMEOUT:
            outcome = Outcome.TIMEOUT
        case FailureKind.DNS:
            outcome = Outcome.DNS_ERROR
        case FailureKind.REFUSED:
            outcome = Outcome.CONNECTION_REFUSED
        case FailureKind.RESET:
            outcome = Outcome.CONNECTION_RESET
        case FailureKind.TLS:
            outcome = Outcome.TLS_ERROR
        case FailureKind.INVALID_URL:
            outcome = Outcome.INVALID_URL
        case FailureKind.OTHER:
            outcome = Outcome.CONNECTION_ERROR
        case _:
            assert_never(kind)
    return Verdict(outcome, reason)


def _answered(facts: CheckFacts, last: Exchange, answer: Answer) -> Verdict:
    status = answer.status
    journey = _journey(facts)
    blocked = blocked_reason(status, answer.headers, answer.body)
    if blocked is not None:
        return Verdict(Outcome.BLOCKED, f"{journey}: {blocked}; check it in a browser.")
    if status == 304:
        return _not_modified(facts, last, journey)
    if status == 429:
        return Verdict(
            Outcome.RATE_LIMITED, f"{journey}: the site asked us to slow down" + _wait(last)
        )
    if status == 503 and last.refused_wait is not None:  # "come back later": no break
        return Verdict(
            Outcome.RATE_LIMITED,
            f"{journey}: the site says it is unavailable for now" + _wait(last),
        )
    if not 200 <= status < 400:
        return _error_status(facts, last, status, journey)
    if status == 300:  # no Location: a list of the page's variants, which browsers show
        return Verdict(
            Outcome.OK,
            f"{journey}: the server lists versions of the page to choose from "
            "(300 Multiple Choices), as a browser shows them.",
        )
    if status >= 300:
        return Verdict(
            Outcome.HTTP_ERROR, f"{journey}: a redirect status without a Location to go to."
        )
    video = video_status(last.final_url or facts.url, answer.body) if answer.body else None
    if video is not None:
        gone, said = video
        if gone:
            return Verdict(Outcome.SOFT_404, f"{journey}: {said}.")
        return Verdict(Outcome.BLOCKED, f"{journey}: {said}; check it in a browser.")
    refresh = _refresh(facts, last, answer)
    login = _login_wall(facts, last, refresh)
    if login is not None:
        return Verdict(Outcome.BLOCKED, f"{journey}: {login}; check it in a browser.")
    soft = _soft404(facts, last, refresh)
    if soft is not None:
        return Verdict(Outcome.SOFT_404, f"{journey}: {soft}.")
    empty = _empty(facts, last, answer)
    if empty is not None:
        return Verdict(Outcome.SOFT_404, f"{journey}: {empty}.")
    verdict = _works(facts, last, status, journey)
    note = _refresh_note(refresh) if refresh is not None else _shell_note(facts)
    if note is None:
        return verdict
    return Verdict(verdict.outcome, f"{verdict.reason.removesuffix('.')}; {note}.")


def _works(facts: CheckFacts, last: Exchange, status: int, journey: str) -> Verdict:
    """The verdict on a page that answers and shows no sign of being missing."""
    redirects = last.redirects
    retried = _retry_clause(facts)
    target = moved_to(facts.url, last.chain)
    if target is not None:
        return Verdict(
            Outcome.REDIRECTED_PERMANENT,
            f"Redirected permanently ({_codes(last)}) to {_moved(target, last)}; the new page "
            f"answers {status}{retried}.",
        )
    if redirects and last.final_url == facts.url:
        return Verdict(
            Outcome.OK,
            f"Redirected ({_codes(last)}) to set a cookie and back to the page, as a browser "
            f"is; the page answers {status}{retried}.",
        )
    if redirects:
        return Verdict(
            Outcome.OK,
            f"Redirected temporarily ({_codes(last)}) to {_place(last.final_url)}; the page "
            f"answers {status}{retried}.",
        )
    return Verdict(Outcome.OK, journey)


def _not_modified(facts: CheckFacts, last: Exchange, journey: str) -> Verdict:
    """A 304 vouches for the copy we fingerprinted, not for the way to it: the redirects
    before it are judged as before a 200 (a permanent one stays a redirect to fix).

    Only a request that named our copy (If-None-Match, If-Modified-Since) can be answered
    "unchanged": a 304 to one that did not (no validators from a last check, or none at
    all) is a server's mistake that sends no page, and is said as such; still no broken
    link, since the server knows the page."""
    final = last.final_url
    if last.redirects and final is not None and not is_home(facts.url):
        moved = redirect_soft404(facts.url, final)
        if moved is not None:
            return Verdict(Outcome.SOFT_404, f"{journey}: {moved}.")
    retried = _retry_clause(facts)
    said = (
        "is unchanged since the last check"
        if last.conditional
        else "answers 'not modified' though the request named no copy to compare with, and "
        "sends no page"
    )
    target = moved_to(facts.url, last.chain)
    if target is not None:
        return Verdict(
            Outcome.REDIRECTED_PERMANENT,
            f"Redirected permanently ({_codes(last)}) to {_moved(target, last)}; the new page "
            f"{said}{retried}.",
        )
    if last.redirects:
        return Verdict(
            Outcome.OK,
            f"Redirected temporarily ({_codes(last)}) to {_place(final)}; the page {said}"
            f"{retried}.",
        )
    if last.conditional:
        return Verdict(Outcome.OK, f"{journey}: unchanged since the last check.")
    return Verdict(Outcome.OK, f"{journey}: the page {said}.")


def _error_status(facts: CheckFacts, last: Exchange, status: int, journey: str) -> Verdict:
    if last.redirects:
        return Verdict(
            Outcome.REDIRECT_TO_ERROR,
            f"Redirects ({_codes(last)}) to {_place(last.final_url)}, which answers {status}"
            f"{_retry_clause(facts)}.",
        )
    if status == 404:
        return Verdict(Outcome.NOT_FOUND, f"{journey}: the server says the page does not exist.")
    if status == 410:
        return Verdict(Outcome.GONE, f"{journey}: the server says the page was removed for good.")
    return Verdict(Outcome.HTTP_ERROR, f"{journey}: the server answers with an error" + _wait(last))


#: What makes an HTML page without text or title show something all the same: a script
#: that builds it, a frame, an image or a player, a form, a refresh to another page.
_SHOWS_SOMETHING = re.compile(
    rb"<(?:script|i?frame|object|embed|img|picture|svg|canvas|video|audio|form|input)\b",
    re.IGNORECASE,
)


def _empty(facts: CheckFacts, last: Exchange, answer: Answer) -> str | None:
    """Why the page a GET read whole is empty, or None: no bytes, only whitespace, or HTML
    with no text, no title and nothing a browser would show or run (`_SHOWS_SOMETHING`).

    A PHP "white screen" or the empty file a failed upload left answers 200 to the end of
    time; with no text, drift detection never judged it, and it was `ok` forever. Only a
    200 to GET: a HEAD, a 204 or a 304 has no body to judge. A deploy in progress may be
    the cause, so it goes through the confirmation of any failure (suspect, then broken).
    """
    page = facts.page  # read from the body of a GET's 2xx (`checker._page_and_probe`)
    if page is None or last.method != "GET" or answer.status != 200 or answer.truncated:
        return None
    if page.text or page.title or page.refresh or page.script_shell or "refresh" in answer.headers:
        return None
    body = answer.body
    if not body.strip():
        kind = "page" if page.is_html else "file"
        what = "0 bytes" if not body else "only blank space"
    elif page.is_html and _SHOWS_SOMETHING.search(body) is None:
        kind, what = "page", "HTML with no text in it"
    else:
        return None
    return (
        f"the server sent an empty {kind} ({what}), which browsers show as a blank page; open "
        "it in a browser, and if it is blank there too, tell the publisher or find the "
        "resource elsewhere"
    )


def _soft404(facts: CheckFacts, last: Exchange, refresh: _Refresh | None) -> str | None:
    """The first soft-404 sign, strongest evidence first; the home page is never one."""
    if is_home(facts.url):
        return None
    final = last.final_url
    if last.redirects and final is not None:
        moved = redirect_soft404(facts.url, final)
        if moved is not None:
            return moved
    if refresh is not None:
        # Judged as a redirect would be: a "moved" notice forwarding to the home page or
        # an error page at once is the resource gone, though the notice answers 200.
        moved = redirect_soft404(facts.url, refresh.url)
        if moved is not None:
            return f"{moved}, by {refresh.how}"
    page = facts.page
    if page is None:
        return None
    says = page_soft404(page, final or facts.url, facts.entry_titles)
    if says is not None:
        return says
    if facts.probe is not None and final is not None and not is_home(final):
        return probe_soft404(page, facts.probe.page, facts.probe.status)
    return None


class _Refresh(NamedTuple):
    """Where a page sends its visitors on its own (a Refresh header, a meta refresh or,
    on a page that says so, a script)."""

    url: str
    #: "a meta refresh after 0 s"
    how: str


#: A refresh within this many seconds forwards the visitor before they read the page; a
#: longer one is a page that reloads itself or lets its notice be read, which counts only
#: on a forwarding notice ("This page has moved. You will be redirected to our home page
#: in 10 seconds.": `forwarding_notice`) that sends its visitors on within
#: `_REFRESH_NOTICE_S`, on the same site.
_REFRESH_NOW_S = 5
#: A notice's refresh waits for the visitor to read it (5 to 30 s in practice); a slower
#: one is no forwarding but a session ending: a tip form's 20-minute timeout "redirected
#: to the home page" is the form itself (r5).
_REFRESH_NOTICE_S = 60
_REFRESH = re.compile(r"\s*(\d+)(?:\.[\d.]*)?\s*(?:[;,]\s*(?:url\s*=\s*)?(.*))?", re.I | re.S)


def _refresh(facts: CheckFacts, last: Exchange, answer: Answer) -> _Refresh | None:
    """Where the answer forwards browsers, or None: a refresh within `_REFRESH_NOW_S`
    seconds; a slower one (up to `_REFRESH_NOTICE_S`), or a script's redirect on load
    (`script_redirect`), from a forwarding notice to a page of the same site: a hotline's
    "Quick Exit" to Google is no forwarding. Only read, never followed: following it
    would be a request of its own, and the verdict needs no more than the address
    (`_soft404`, `_login_wall`, `_refresh_note`)."""
    header = answer.headers.get("refresh")
    page = facts.page
    value, kind = (header, "a Refresh header") if header else (None, "")
    if value is None and page is not None and page.refresh:
        value, kind = page.refresh, "a meta refresh"
    found = _REFRESH.fullmatch(value) if value else None
    base = last.final_url or facts.url
    announced: bool | None = None  # read once, and only when it decides
    if found is not None and found.group(2):
        delay = int(found.group(1))
        target = found.group(2).strip()
        if target[:1] in ("'", '"'):  # HTML: a quoted URL ends at its closing quote
            target = target[1:].split(target[0], 1)[0]
        url = _forwarded_to(base, target)
        if url is not None and delay <= _REFRESH_NOW_S:
            return _Refresh(url, f"{kind} after {found.group(1)} s")
        if url is not None and delay <= _REFRESH_NOTICE_S and _same_site(url, base):
            announced = page is not None and forwarding_notice(page)
            if announced:
                return _Refresh(url, f"{kind} after {found.group(1)} s")
    if page is None or not page.is_html or b"location" not in answer.body:
        return None
    if announced is None:
        announced = forwarding_notice(page)
    written = script_redirect(answer.body) if announced else None
    url = _forwarded_to(base, written) if written is not None else None
    if url is None or not _same_site(url, base):
        return None
    return _Refresh(url, "a script on the page")


def _same_site(url: str, base: str) -> bool:
    """Whether `url` is on the site of `base` ("www." aside, or one a subdomain of the
    other): where a notice forwards; a safety button's google.com or weather.com is not."""
    a, b = site_host(url), site_host(base)
    return a == b or a.endswith(f".{b}") or b.endswith(f".{a}")


def _forwarded_to(base: str, target: str) -> str | None:
    """The http(s) address `target` names from the page at `base`, unless it is that page."""
    try:
        url = str(httpx.URL(base).join(target.strip()))
    except (httpx.InvalidURL, ValueError, TypeError):
        return None
    if urlsplit(url).scheme not in ("http", "https") or _same_page(url, base):
        return None
    return url


def _refresh_note(refresh: _Refresh) -> str:
    return (
        f"the page sends visitors on to {_place(refresh.url)} by {refresh.how} "
        "(not followed: that page was not checked)"
    )


def _shell_note(facts: CheckFacts) -> str | None:
    page, probe = facts.page, facts.probe
    if page is None or probe is None:
        return None
    return unverified_shell(page, probe.page, probe.status)


#: Path segments (without an extension) of login, single-sign-on and authorisation pages:
#: "/login", "/Account/Login.aspx", "/users/sign_in", "/wp-login.php", "/cas/login",
#: "/idp/profile/SAML2/Redirect/SSO", "/oauth2/authorize". Whole segments only, so an
#: "/authors/" page or a "login-help" article is none.
_LOGIN_SEGMENT = re.compile(
    r"(?:wp[-_]|user[-_]?|member[-_]?|service|account[-_]?|admin[-_]?|my)?"
    r"(?:log[-_]?[io]n|sign[-_]?[io]n|sso|auth|authenticate|authori[sz]e|oauth2?|saml2?)",
    re.IGNORECASE,
)


#: Query keys (lower-cased) by which a login page remembers where to send the visitor back.
_RETURN_KEYS = frozenset(
    {
        "next",
        "return",
        "returnurl",
        "return_url",
        "returnto",
        "return_to",
        "redirect",
        "redirect_to",
        "redirect_uri",
        "redirecturl",
        "redirect_url",
        "continue",
        "goto",
        "service",
        "came_from",
        "backurl",
        "relaystate",
        "destination",
    }
)


#: Redirects that send a visitor somewhere for now: the way to a login page and back.
_TEMPORARY = frozenset({302, 303, 307})


def _login_wall(facts: CheckFacts, last: Exchange, refresh: _Refresh | None) -> str | None:
    """Why the link is sent to a login page (the resource is behind it), or None.

    Only where the link ends counts (the redirects' last page, or where the page's refresh
    sends visitors): a sign-in dance that passes a login page and comes back, or goes on
    to a page elsewhere, is no wall; nor is a catalog URL that is a login page itself.
    A login page (its last segment says so: "/oauth2/authorize", or any segment with a
    return-to parameter pointing back: "/v3/signin/identifier?continue=…") counts after a
    temporary redirect, or when the page is a login form (`PageFacts.login_form`): a
    permanent move to "/topics/sso" is a page about single sign-on, and a 302 to
    "/docs/sso/overview" documentation. A return-to parameter pointing back
    ("/user?destination=/node/5", Drupal's) counts alone only on a login form: a
    cookie-consent page or a region chooser carries one."""
    requested = facts.url
    if _is_login_page(requested):
        return None
    final = last.final_url
    if last.redirects and final is not None and not _same_page(final, requested):
        form = facts.page is not None and facts.page.login_form
        login = _is_login_page(final) or (is_login_url(final) and _returns_to(final, requested))
        if (login and (_sent_to_login(last) or form)) or (
            form and (is_login_url(final) or _returns_to(final, requested))
        ):
            return f"it redirects ({_codes(last)}) to a login page ({_place(final)})"
    if refresh is not None and _is_login_page(refresh.url):
        return f"the page sends visitors to a login page ({_place(refresh.url)}) by {refresh.how}"
    return None


def _sent_to_login(last: Exchange) -> bool:
    """Whether the redirect into the chain's closing run of login pages was temporary:
    302 to "/login?next=…" then 301 to "/login/?next=…" (a slash added) is still the way
    to a login page and back, not a move to accept."""
    chain = last.chain
    j = len(chain) - 1
    while j > 0 and _is_login_page(chain[j - 1].url):
        j -= 1
    return j > 0 and chain[j - 1].status in _TEMPORARY


#: Last segments that name no page of their own: "/login/index.php" is the login page.
_INDEX = re.compile(r"(?:index|default)(?:\.\w+)?", re.IGNORECASE)


def _is_login_page(url: str) -> bool:
    """Whether the page at `url` itself is a login page (its last path segment, or the
    one before an "index.php"): the catalog may list one ("/help/login",
    "/login/index.php"), and "/auth/reports/guide" is a report."""
    try:
        segments = [s for s in urlsplit(url).path.split("/") if s]
    except ValueError:
        return False
    if len(segments) > 1 and _INDEX.fullmatch(segments[-1]):
        segments.pop()
    return bool(segments) and _is_login_segment(segments[-1])


def _is_login_segment(segment: str) -> bool:
    stem = segment.rsplit(".", 1)[0]  # "login.aspx" -> "login"; "login" as it is
    return bool(stem) and _LOGIN_SEGMENT.fullmatch(stem) is not None


def _returns_to(url: str, requested: str) -> bool:
    """Whether `url` carries a return-to parameter leading back to `requested`'s page."""
    try:
        parts, back = urlsplit(url), urlsplit(requested).path.rstrip("/")
    except ValueError:
        return False
    if not back or not parts.query:
        return False
    return any(
        key.lower() in _RETURN_KEYS and urlsplit(value).path.rstrip("/") == back
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    )


def is_login_url(url: str) -> bool:
    """Whether `url` is a login page, by a login segment in its path. A return-to parameter
    alone ("?continue=", "?redirect=") is none: YouTube's and Google's cookie consent pages
    and a site's region chooser carry one too (`_returns_to` counts on a login form only)."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return False
    return any(_is_login_segment(segment) for segment in path.split("/"))


def _same_page(a: str, b: str) -> bool:
    """The same page but for a trailing slash, the case of the host or the fragment."""
    try:
        pa, pb = urlsplit(a), urlsplit(b)
    except ValueError:
        return False
    return (
        (pa.hostname or "") == (pb.hostname or "")
        and pa.path.rstrip("/") == pb.path.rstrip("/")
        and pa.query == pb.query
    )


def is_home(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.path in ("", "/") and not parts.query


#: A request of a reason's journey that got no answer ("HEAD no answer, GET 200"): the
#: report reads it there (`reports.trends.at_once`).
NO_ANSWER = "no answer"


def _journey(facts: CheckFacts) -> str:
    """E.g. "HEAD 405, GET 301 → 200 after 1 retry (503, Retry-After 1 s)"."""
    steps = []
    for exchange in facts.exchanges:
        hops = [str(h.status) if h.status is not None else NO_ANSWER for h in exchange.chain]
        if exchange.stop in (Stop.PRIVATE, Stop.UNRESOLVED):
            hops.append("not sent")
        # An empty chain without a refusal means the request went out and nothing came back.
        step = f"{exchange.method} {' → '.join(hops) or NO_ANSWER}"
        # Each method's retries after it: "HEAD 429, GET 200 after 2 retries (429 ...)"
        # read as if GET had been refused twice, when HEAD was.
        steps.append(step + _notes_clause(exchange.retries, " after "))
    return ", ".join(steps)


def _retry_clause(facts: CheckFacts, lead: str = " after ") -> str:
    return _notes_clause([note for exchange in facts.exchanges for note in exchange.retries], lead)


def _notes_clause(notes: Sequence[RetryNote], lead: str) -> str:
    if not notes:
        return ""
    causes = "; ".join(
        note.cause
        if note.retry_after is None
        else f"{note.cause}, Retry-After {_duration(note.retry_after)}"
        for note in notes
    )
    plural = "retry" if len(notes) == 1 else "retries"
    return f"{lead}{len(notes)} {plural} ({causes})"


def _wait(last: Exchange) -> str:
    if last.refused_wait is None:
        return "."
    return (
        f"; it asked us to wait {_duration(last.refused_wait)} (Retry-After), longer than the "
        "check can wait for one link."
    )


def _place(url: str | None) -> str:
    """A redirect's target as observations record it (`redirects.stable_url`), saying so
    when it is a signed address: the one the server sent stops working within hours."""
    if url is None:
        return "nowhere"
    if is_signed(url):
        return f"{_short(stable_url(url))} (a signed address that expires)"
    return _short(stable_url(url))


def _moved(target: str, last: Exchange) -> str:
    """Where a permanent redirect points (`target`, from `moved_to`), and the temporary
    place beyond it, if any."""
    final = last.final_url
    if target == final:
        return _place(final)
    return f"{_short(stable_url(target))}, which leads on to {_place(final)}"


#: Characters of a URL a reason quotes at most; the whole URL stays in `chain`/`final_url`.
URL_CHARS = 200


def _short(url: str) -> str:
    """`url`, cut in the middle when long (a 30 KB Location made a 30 KB reason): its
    host and path's start, and its end, which tell pages apart, stay."""
    if len(url) <= URL_CHARS:
        return url
    half = (URL_CHARS - 1) // 2
    return f"{url[:half]}…{url[-half:]}"


def _codes(last: Exchange) -> str:
    return ", ".join(str(hop.status) for hop in last.redirects) or "redirect"


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 1 or value == 0 else f"{value:.1f} s"


#: Seconds in a day and in a year, for `_duration`.
_DAY = 86_400.0
_YEAR = 365 * _DAY


def _duration(value: float) -> str:
    """A wait a server asked for, readable: the seconds it said while they mean something
    to a person, then days, then "more than a year" (a Retry-After of twenty digits, or of
    a date in the year 9999, read "wait inf s" or as the twenty digits)."""
    if value < 120:
        return _seconds(value)
    if value < 2 * 3600:
        return f"{value:.0f} s (about {round(value / 60)} min)"
    if value < 2 * _DAY:
        return f"{value:.0f} s (about {round(value / 3600)} hours)"
    if value < _YEAR:
        return f"about {round(value / _DAY)} days"
    return "more than a year"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]

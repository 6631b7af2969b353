"""Drift: real pages of the bundled catalog match their entries, hijacked domains do not.

Page texts below are written by hand in the shape `Observation.text_sample` takes:
whitespace-collapsed visible text, navigation included, cut near 2000 characters.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from catalog import drift
from catalog.drift import (
    MARKER_LABELS,
    MIN_PAGE_WORDS,
    DriftVerdict,
    Relevance,
    find_markers,
    judge_drift,
    relevance,
)
from catalog.model import Resource
from catalog.settings import BUNDLED_CATALOG
from catalog.source import load_catalog
from tests.complexity import growth

RESOURCES: dict[str, Resource] = {r.id: r for r in load_catalog(BUNDLED_CATALOG).resources}

# --- the resources' own pages -----------------------------------------------------------

HOTLINE = (
    "National Human Trafficking Hotline",
    "Skip to main content National Human Trafficking Hotline Get Help Report a Tip Resources "
    "Statistics About Us If you or someone you know is a victim of human trafficking, call "
    "1-888-373-7888 (TTY: 711) or text 233733. The National Human Trafficking Hotline "
    "connects victims and survivors of sex and labor trafficking with services and supports "
    "to get help and stay safe. The hotline also receives tips about potential situations of "
    "sex and labor trafficking and facilitates reporting that information to the appropriate "
    "authorities in certain cases. The toll-free phone and SMS text lines and live online chat "
    "function are available 24 hours a day, 7 days a week, 365 days a year. Help is available "
    "in English or Spanish, or in more than 200 additional languages through an on-call "
    "interpreter. What is human trafficking? Human trafficking occurs when a trafficker uses "
    "force, fraud or coercion to control another person for the purpose of engaging in "
    "commercial sex acts or soliciting labor or services against their will. Submit a tip "
    "online through our anonymous online tip reporting form. The hotline is operated by "
    "Polaris and funded by the U.S. Department of Health and Human Services.",
)
TIP_REPORT_2018 = (
    "Trafficking in Persons Report 2018",
    "U.S. Department of State Diplomacy in Action Office to Monitor and Combat Trafficking "
    "in Persons 2018 Trafficking in Persons Report Message from the Secretary of State The "
    "2018 Trafficking in Persons Report is an essential State Department tool used to shed "
    "light on the darkness where modern slavery thrives and to highlight specific steps each "
    "government can take to protect victims of human trafficking, prevent trafficking "
    "crimes, and prosecute traffickers in the United States and around the world. The "
    "findings in this report help inform policymakers, law enforcement, and civil society on "
    "gaps and areas of concern. Introduction Tier Placements Country Narratives Topics of "
    "Special Interest Victims' Stories Global Law Enforcement Data Stopping Human "
    "Trafficking TIP Heroes Download the full report (PDF).",
)
BLUE_CAMPAIGN = (
    "Blue Campaign | Homeland Security",
    "Official website of the Department of Homeland Security Topics News Secretary "
    "Blue Campaign One Voice. One Mission. End Human Trafficking. The Blue Campaign is a "
    "national public awareness campaign designed to educate the public, law enforcement and "
    "other industry partners to recognize the indicators of human trafficking, and how to "
    "appropriately respond to possible cases. Blue Campaign works closely with DHS "
    "Components to create general awareness trainings, as well as partners with the private "
    "sector, non-governmental organizations, law enforcement and state and local authorities "
    "to maximize national public engagement on anti-human trafficking efforts. Learn to "
    "recognize the indicators of human trafficking. Report suspected human trafficking to "
    "Federal law enforcement at 1-866-347-2423. Get help from the National Human Trafficking "
    "Hotline at 1-888-373-7888. Resources Awareness Training Materials Publications Library",
)
IACP_SERIES = (
    "Child Sex Trafficking Tools for Law Enforcement | International Association of Chiefs "
    "of Police",
    "IACP Home Projects Child Sex Trafficking Tools for Law Enforcement Child Sex "
    "Trafficking: A Training Series for Frontline Officers. The IACP, in partnership with the "
    "FBI and the COPS Office, developed a training series for frontline officers. The "
    "toolkit includes training videos on how to recognize and respond to victims of child "
    "sex trafficking, a discussion guide to reinforce key information contained in the "
    "videos, roll call briefings and quick reference sheets for officers responding to "
    "suspected child sex trafficking. Escort ads, online classified advertising and "
    "commercial sexual exploitation of minors are covered, as are the indicators that a "
    "youth is being exploited in prostitution. Take the online course. Download the template "
    "presentation for your agency.",
)
EXISTE_AYUDA = (
    "Existe Ayuda: Herramientas para proveedores de servicios",
    "Oficina para Víctimas del Crimen Existe Ayuda Help Exists Inicio Mensaje del director "
    "Glosarios Presentaciones Herramientas Estas herramientas en español ayudan a mejorar la "
    "competencia cultural de los proveedores de servicios y el acceso a los servicios para "
    "víctimas de violencia sexual que hablan español. Incluye glosarios de términos sobre "
    "agresión sexual y trata de personas, presentaciones para promotoras y defensores de "
    "víctimas, una tarjeta de bolsillo, hojas informativas y guiones para anuncios de "
    "servicio público. Desarrollado por Arte Sana con fondos de la Office for Victims of "
    "Crime.",
)

REAL_PAGES = [
    pytest.param("national-human-trafficking-hotline", HOTLINE, id="hotline"),
    pytest.param("us-state-department-2018-tip-report", TIP_REPORT_2018, id="tip-report"),
    pytest.param("dhs-blue-campaign", BLUE_CAMPAIGN, id="blue-campaign"),
    pytest.param(
        "child-sex-trafficking-training-series-frontline-officers", IACP_SERIES, id="iacp"
    ),
    pytest.param("existe-ayuda-help-exists-toolkit", EXISTE_AYUDA, id="spanish-page"),
]

# --- what a lapsed domain turns into ----------------------------------------------------

CASINO = (
    "Best Online Casino 2025 – Play Slots & Win Real Money",
    "Home Casino Slots Live Casino Sportsbook Promotions VIP Welcome to the most trusted "
    "online casino! Claim your 200% welcome bonus up to $1,000 plus 100 free spins on your "
    "first deposit. Play over 3,000 slots, blackjack, roulette and baccarat with live "
    "dealers. Bet on football, basketball and tennis in our sportsbook with the best odds. "
    "Daily jackpot drops and weekly cashback. Fast withdrawals in 24 hours. Licensed and "
    "regulated. Gamble responsibly. 18+ only. Join now and start winning today! Top games "
    "this week: Book of Dead, Starburst, Gates of Olympus, Sweet Bonanza. Refer a friend "
    "and get bonus spins.",
)
SLOT_GACOR = (
    "SLOT GACOR HARI INI ⚡ Situs Slot Online Terpercaya Gampang Maxwin",
    "Daftar Login Slot gacor hari ini adalah situs judi online terpercaya dengan RTP live "
    "tertinggi. Deposit pulsa tanpa potongan, bonus new member 100%, gampang maxwin. Main "
    "slot online, togel, live casino dan sportsbook dalam satu akun. Link alternatif "
    "resmi 24 jam. Daftar sekarang dan raih jackpot besar setiap hari bersama kami.",
)
GODADDY_PARKING = (
    "humantraffickinghotline.org",
    "humantraffickinghotline.org This domain may be for sale! Get this domain Make an offer "
    "Related Searches Human Resources Software Hotline Services Legal Advice Online Privacy "
    "Policy Copyright © 2025 GoDaddy Operating Company, LLC. All rights reserved.",
)
SEDO_PARKING = (
    "demand-forum.org - This website is for sale! - demand forum Resources and Information.",
    "demand-forum.org This domain is for sale. Buy this domain The domain demand-forum.org "
    "may be for sale. Click here to inquire about this domain. Related Links Forum Software "
    "Demand Generation Online Courses Community Forum Sedo Domain Parking Disclaimer: "
    "Domain owner and Sedo maintain no relationship with third party advertisers.",
)
DAN_PARKING = (
    "ovcttac.gov is for sale | Dan.com",
    "The domain name ovcttac.gov is for sale. Buy now for $2,495 or make an offer. "
    "Secure transaction via Dan.com buyer protection program. Fast and easy transfers. "
    "Hassle free payments. Free ownership transfer. Trusted by over 100,000 domain buyers.",
)
HUGEDOMAINS = (
    "TheIACP.org is for sale | HugeDomains",
    "Get this domain TheIACP.org Buy now $3,295 or pay over time. Questions? Talk to a "
    "domain expert. HugeDomains.com 100% money back guarantee. Fast and easy transfers.",
)
ADULT = (
    "Free Porn Videos & XXX Movies | HotTube",
    "Home Categories Pornstars Live Cams Upload Free porn videos updated daily. Watch the "
    "hottest XXX videos, amateur, milf, hardcore and more in HD. Horny cam girls online "
    "now. You must be 18 years or older to enter this site. Join free and chat with hot "
    "singles in your area tonight. Top rated, most viewed, newest videos.",
)
PHARMA = (
    "Buy Cheap Viagra Online - No Prescription Needed",
    "Online pharmacy Buy Viagra and Cialis online without prescription. Cheap pills, "
    "discreet worldwide shipping, 90% off brand prices. Generic Levitra, Kamagra oral jelly. "
    "Best quality medications from licensed manufacturers. Order now and save.",
)
CRYPTO = (
    "Bitcoin Giveaway – Double Your Bitcoin Today",
    "Official crypto giveaway event! Send from 0.1 to 20 BTC or ETH and receive double "
    "back instantly. Connect your wallet to claim your airdrop. Guaranteed returns, daily "
    "profit, trading bot powered by AI. Limited time only.",
)
CORPORATE = (
    "Acme Cloud Solutions | Enterprise Software for Modern Businesses",
    "Products Solutions Pricing Customers Careers Blog Acme Cloud helps enterprises move "
    "faster with secure, scalable software. Our platform unifies analytics, billing and "
    "customer relationship management in one dashboard. Trusted by more than 5,000 "
    "companies worldwide. Book a demo today and see how Acme Cloud can cut your operating "
    "costs by 30 percent. Integrations with Salesforce, Slack and Microsoft Teams. SOC 2 "
    "Type II certified. Read customer success stories from retail, logistics and "
    "manufacturing leaders. Start your free trial. Pricing plans for teams of every size.",
)

# A lapsed hosting account or a reinstalled server: the host's own page, in its real wording.
SUSPENDED = (
    "Account Suspended",
    "Account Suspended This Account has been suspended. Contact your hosting provider for "
    "more information.",
)
NGINX = (
    "Welcome to nginx!",
    "Welcome to nginx! If you see this page, the nginx web server is successfully installed "
    "and working. Further configuration is required. For online documentation and support "
    "please refer to nginx.org. Commercial support is available at nginx.com. Thank you for "
    "using nginx.",
)
IIS = ("IIS Windows Server", None)
IIS7 = ("IIS7", "")
APACHE_IT_WORKS = (None, "It works!")
INDEX_OF_ROOT = ("Index of /", "Index of / Name Last modified Size Description")
CPANEL_DEFAULT = (
    "Default Web Site Page",
    "Default Web Site Page If you are the owner of this website, please contact your hosting "
    "provider: webmaster@example.org",
)
GODADDY_FUTURE_HOME = (
    "Coming Soon",
    "Future home of something quite cool. If you're the site owner, log in to launch this site",
)
PLACEHOLDERS = [
    pytest.param(SUSPENDED, ("placeholder",), id="cpanel-suspended"),
    pytest.param(NGINX, ("placeholder",), id="nginx-default"),
    pytest.param(IIS, ("placeholder",), id="iis-start-page"),
    pytest.param(IIS7, ("placeholder",), id="iis7-start-page"),
    pytest.param(APACHE_IT_WORKS, ("placeholder",), id="apache-it-works"),
    pytest.param(INDEX_OF_ROOT, ("placeholder",), id="empty-index-of-root"),
    pytest.param(CPANEL_DEFAULT, ("placeholder",), id="cpanel-default"),
    pytest.param(GODADDY_FUTURE_HOME, ("placeholder",), id="godaddy-future-home"),
]
# Dan.com's sale page as a lapsed domain's redirect reaches it: no "Dan.com" in its text.
DAN_SALE_ONLY = (
    "polaristaskforce.org",
    "The domain name polaristaskforce.org is for sale Buy now. Fast and secure transfer. "
    "Buyer protection program.",
)

HIJACKED = [
    pytest.param(CASINO, ("gambling",), id="casino"),
    pytest.param(SLOT_GACOR, ("gambling",), id="indonesian-slots"),
    pytest.param(GODADDY_PARKING, ("parking",), id="godaddy-parking"),
    pytest.param(SEDO_PARKING, ("parking",), id="sedo-parking"),
    pytest.param(DAN_PARKING, ("parking",), id="dan-parking"),
    pytest.param(HUGEDOMAINS, ("parking",), id="hugedomains"),
    pytest.param(ADULT, ("adult",), id="adult"),
    pytest.param(PHARMA, ("pharma",), id="pharma"),
    pytest.param(CRYPTO, ("crypto",), id="crypto"),
    pytest.param(DAN_SALE_ONLY, ("parking",), id="domain-name-is-for-sale"),
    *PLACEHOLDERS,
]
UNRELATED = [*HIJACKED, pytest.param(CORPORATE, (), id="corporate")]
ENTRY_IDS = [p.values[0] for p in REAL_PAGES]


def judge(rid: str, page: tuple[str, str]) -> Relevance:
    entry = RESOURCES[rid]
    return relevance(entry.title, entry.description, *page)


# --- relevance --------------------------------------------------------------------------


@pytest.mark.parametrize(("rid", "page"), REAL_PAGES)
def test_a_resources_own_page_scores_high_without_markers(rid: str, page: tuple[str, str]) -> None:
    result = judge(rid, page)
    assert result.score >= 0.4
    assert result.markers == ()
    assert result.substantial


@pytest.mark.parametrize(("rid", "page"), REAL_PAGES)
def test_a_resources_own_page_is_not_drift_with_or_without_history(
    rid: str, page: tuple[str, str]
) -> None:
    result = judge(rid, page)
    assert judge_drift(result, []) is None
    assert judge_drift(result, [result.score, result.score * 1.1]) is None


@pytest.mark.parametrize("rid", ENTRY_IDS)
@pytest.mark.parametrize(("page", "markers"), UNRELATED)
def test_unrelated_pages_score_low(rid: str, page: tuple[str, str], markers: tuple) -> None:
    assert judge(rid, page).score < 0.15


@pytest.mark.parametrize("rid", ENTRY_IDS)
@pytest.mark.parametrize(("page", "markers"), HIJACKED)
def test_hijacked_pages_carry_their_marker(
    rid: str, page: tuple[str, str], markers: tuple[str, ...]
) -> None:
    result = judge(rid, page)
    assert result.markers == markers
    assert set(result.markers) <= set(MARKER_LABELS)


def test_marker_evidence_quotes_the_page_and_names_its_title() -> None:
    result = judge("national-human-trafficking-hotline", GODADDY_PARKING)
    assert "'This domain may be for sale'" in result.evidence
    assert any("humantraffickinghotline.org" in e for e in result.evidence)


def test_another_resources_page_scores_lower_than_the_resources_own() -> None:
    own = judge("national-human-trafficking-hotline", HOTLINE).score
    other = judge("national-human-trafficking-hotline", EXISTE_AYUDA).score
    assert other < own


def test_a_page_with_no_text_is_thin_and_scores_zero() -> None:
    result = relevance("DHS Blue Campaign", "Human trafficking awareness", None, None)
    assert result.score == 0.0
    assert not result.substantial


def test_relevance_costs_in_proportion_to_the_text_sample() -> None:
    """Judged for every stored observation, on the run's one writer."""
    entry = RESOURCES["us-state-department-2018-tip-report"]
    text = TIP_REPORT_2018[1] + " " + CORPORATE[1]  # ~1300 characters

    def judge_text(sample: str) -> object:
        return relevance(entry.title, entry.description, TIP_REPORT_2018[0], sample)

    assert growth(judge_text, text * 3, text * 24, size_ratio=8) < 3


# --- markers never fire on the catalog's own language -----------------------------------


@pytest.mark.parametrize("resource", RESOURCES.values(), ids=list(RESOURCES))
def test_no_marker_fires_on_a_catalog_entry_read_as_a_page(resource: Resource) -> None:
    assert find_markers(f"{resource.title}\n{resource.description or ''}") == {}
    result = relevance("Unrelated entry", None, resource.title, resource.description)
    assert result.markers == ()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            "Traffickers advertise victims on escort websites and online classified ads. "
            "Commercial sexual exploitation, prostitution of minors, child pornography and "
            "sextortion with nude images are all forms of sex trafficking. Buyers of sex "
            "drive demand; survivors describe strip clubs, massage parlors and live sex "
            "shows.",
            id="sex-trafficking-vocabulary",
        ),
        pytest.param(
            "Financial investigations follow the money: traffickers increasingly use "
            "cryptocurrency such as bitcoin, prepaid cards and casino chips to launder "
            "proceeds.",
            id="financial-investigation",
        ),
        pytest.param(
            "Related Links: National Human Trafficking Hotline. Training time slots are "
            "available; this domain of work demands collaboration against all odds.",
            id="ordinary-site-furniture",
        ),
    ],
)
def test_legitimate_trafficking_pages_carry_no_marker(text: str) -> None:
    assert find_markers(text) == {}


def test_a_vehicle_parked_by_a_motel_is_no_parked_domain() -> None:
    # Indicator guides for truckers, hotel staff and patrol officers describe where cars
    # are parked; a parked *domain* page names its parking service or sale offer as well.
    guide = (
        "Indicators of human trafficking at truck stops and motels: vehicles parked by the "
        "fuel island for hours, a van parked by the side entrance, young people going from "
        "truck to truck. Call the National Human Trafficking Hotline."
    )
    assert find_markers(guide) == {}
    assert "parking" in find_markers("This domain is parked by GoDaddy.com. Domain owner")


def test_a_cybersex_trafficking_report_is_no_adult_site() -> None:
    report = (
        "Online sexual exploitation of children: victims in the Philippines were forced by "
        "traffickers to perform on live sex cams streamed to paying offenders abroad."
    )
    assert find_markers(report) == {}
    cam_site = "Live sex cams: free sex cams with horny cam girls online now."
    assert "adult" in find_markers(cam_site)


@pytest.mark.parametrize(("page", "markers"), PLACEHOLDERS)
def test_a_hosts_placeholder_is_drift_even_too_short_to_judge_by_its_words(
    page: tuple[str | None, str | None], markers: tuple[str, ...]
) -> None:
    result = relevance("Polaris Project", "The National Human Trafficking Hotline.", *page)
    verdict = judge_drift(result, [0.7, 0.72])
    assert verdict is not None
    assert verdict.markers == markers
    assert drift.names_markers(verdict.reason)


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(
            ("Our new website", "The hotline site now runs on nginx. Welcome to nginx users!"),
            id="short-page-mentioning-nginx",
        ),
        pytest.param(
            ("How it works", "How it works: call the hotline, an advocate answers."),
            id="how-it-works",
        ),
        pytest.param(
            (
                "It works!",
                "It works! Two years on, the survivors' jobs program of the county task force "
                "has placed forty women in steady work, paid fairly, with child care, housing "
                "help and legal advice; the evaluation found fewer returned to their traffickers.",
            ),
            id="it-works-article",
        ),
        pytest.param(
            ("Index of /reports/2019", "Index of /reports/2019 tip-report.pdf"), id="listing"
        ),
        pytest.param(
            ("Accounts", "A trafficker's account suspended by the platform after our report."),
            id="news-of-a-suspended-account",
        ),
        pytest.param(
            ("Sold", "Children are for sale online, the report found; girls is for sale."),
            id="report-on-children-for-sale",
        ),
    ],
)
def test_real_short_pages_near_a_placeholders_words_carry_no_marker(
    page: tuple[str, str],
) -> None:
    assert relevance("Polaris Project", None, *page).markers == ()


def test_an_entry_titled_as_a_placeholder_is_not_drift_by_that_title() -> None:
    assert relevance("It Works!", "A jobs program for survivors.", None, "It works!").markers == ()


@pytest.mark.parametrize(
    "final",
    [
        "https://dan.com/buy-domain/polaristaskforce.org",
        "https://www.afternic.com/forsale/polaristaskforce.org",
        "https://sedo.com/search/details/?domain=polaristaskforce.org",
        "https://www.godaddy.com/forsale/polaristaskforce.org",
    ],
)
def test_a_link_redirected_to_a_domain_marketplace_is_a_for_sale_page(final: str) -> None:
    """The sale page itself may carry no parking phrase: where it is says enough."""
    url = "https://polaristaskforce.org/reports/annual"
    result = relevance(
        "Polaris Task Force Annual Report", None, "Buy", "Buy now", url=url, final_url=final
    )
    assert result.markers == ("parking",)


@pytest.mark.parametrize(
    ("url", "final"),
    [
        pytest.param("https://dan.com/about", "https://dan.com/about/", id="the-link-is-on-it"),
        pytest.param("https://a.org/r", "https://www.godaddy.com/", id="godaddy-home"),
        pytest.param("https://a.org/r", "https://b.org/r", id="another-site"),
    ],
)
def test_other_redirects_are_no_marketplace(url: str, final: str) -> None:
    result = relevance(
        "Polaris Task Force Annual Report", None, "Buy", "Buy now", url=url, final_url=final
    )
    assert result.markers == ()


def test_one_word_in_singular_and_plural_is_one_weak_marker() -> None:
    # A labour-trafficking report naming "casinos" and "a casino" has one gambling word,
    # not the two a gambling page needs; a second, different word still makes two.
    report = (
        "Labor trafficking in casinos: workers recruited to a casino in Saipan were held in "
        "debt bondage by their recruiters."
    )
    assert find_markers(report) == {}
    assert "gambling" in find_markers(f"{report} The casino also ran a poker room.")


def test_an_entry_naming_the_plural_ignores_the_singular_on_its_page() -> None:
    page = "A casino cashier spotted the victim; poker dealers were trained too."
    assert "gambling" in find_markers(page)
    assert find_markers(page, ignore="Human Trafficking in Casinos") == {}


def test_a_marker_word_the_entry_itself_uses_does_not_count() -> None:
    page = "Human trafficking in casinos: training casino and poker room staff to spot victims."
    assert "gambling" in find_markers(page)
    entry = "Trafficking in Casinos and Poker Rooms"
    result = relevance(entry, "Training for casino and poker room staff.", "Training", page)
    assert result.markers == ()


# --- verdicts ---------------------------------------------------------------------------


@pytest.mark.parametrize(("page", "markers"), HIJACKED)
def test_markers_mean_drift_whatever_the_history(
    page: tuple[str, str], markers: tuple[str, ...]
) -> None:
    current = judge("dhs-blue-campaign", page)
    for history in ([], [0.7, 0.65, 0.72], [0.01]):
        verdict = judge_drift(current, history)
        assert isinstance(verdict, DriftVerdict)
        assert verdict.markers == markers
        assert verdict.score == current.score


def test_marker_verdict_names_the_evidence_and_the_fall() -> None:
    current = judge("national-human-trafficking-hotline", GODADDY_PARKING)
    verdict = judge_drift(current, [0.6, 0.62, 0.64])
    assert verdict is not None
    assert verdict.baseline == pytest.approx(0.62)
    assert "This domain may be for sale" in verdict.reason
    assert "(it shared 62% of the entry's words, now 8%)" in verdict.reason


def test_markers_on_a_thin_page_still_mean_drift() -> None:
    current = relevance("DHS Blue Campaign", None, "dhs.gov", "Buy this domain.")
    assert not current.substantial
    assert judge_drift(current, []) is not None


def test_a_sharp_fall_from_the_links_history_is_drift() -> None:
    current = judge("national-human-trafficking-hotline", CORPORATE)
    verdict = judge_drift(current, [0.7, 0.65, 0.8])
    assert verdict is not None
    assert verdict.markers == ()
    assert verdict.baseline == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("score", "history", "drifted"),
    [
        pytest.param(0.25, [0.7, 0.7], True, id="halved-and-low"),
        pytest.param(0.4, [0.9, 0.9], False, id="halved-but-still-matching"),
        pytest.param(0.3, [0.5, 0.5], False, id="fell-less-than-half"),
        pytest.param(0.1, [0.1, 0.12, 0.9], False, id="median-not-mean"),
        pytest.param(0.05, [0.08], False, id="never-matched-well"),
        pytest.param(0.1, [], True, id="no-history-below-floor"),
        pytest.param(0.2, [], False, id="no-history-above-floor"),
    ],
)
def test_score_rules(score: float, history: list[float], drifted: bool) -> None:
    current = Relevance(score=score, words=MIN_PAGE_WORDS * 4)
    assert (judge_drift(current, history) is not None) is drifted


@pytest.mark.parametrize("history", [[], [0.8, 0.75]])
def test_thin_pages_are_never_drift_on_score_alone(history: list[float]) -> None:
    pdf_without_text = relevance(
        RESOURCES["us-state-department-2018-tip-report"].title, None, "282570.pdf", None
    )
    assert judge_drift(pdf_without_text, history) is None
    assert judge_drift(Relevance(score=0.0, words=MIN_PAGE_WORDS - 1), history) is None


def test_unrelated_page_on_first_look_is_drift() -> None:
    verdict = judge_drift(judge("dhs-blue-campaign", CORPORATE), [])
    assert verdict is not None
    assert verdict.baseline is None
    assert "Acme Cloud" in verdict.reason


# --- the fast paths find what the plain scans find ----------------------------------------

_PHRASES = sorted({p for m in drift._CATEGORIES.values() for p in (*m.strong, *m.weak)})


def _markers_by_full_scan(text: str, ignore: str = "") -> dict[str, tuple[str, ...]]:
    """`find_markers` as it was before its word-set pre-filter: every category's pattern
    run over every page."""
    fired: dict[str, tuple[str, ...]] = {}
    for code, markers in drift._CATEGORIES.items():
        found: dict[str, str] = {}
        for match in drift._pattern(*markers.strong, *markers.weak).finditer(text):
            key = drift._key(match.group(0))
            if key not in found and not drift._entry_uses(key, ignore):
                found[key] = " ".join(match.group(0).split())
        strong = [found[k] for k in found if k in markers.strong]
        if strong or len(found) >= markers.weak_needed:
            weak = [found[k] for k in found if k not in markers.strong]
            fired[code] = tuple([*strong, *weak][: drift._EVIDENCE_PER_MARKER])
    return fired


_piece = st.one_of(
    st.sampled_from(_PHRASES).map(lambda p: p.upper() if len(p) % 2 else p.title()),
    st.sampled_from(_PHRASES).map(lambda p: p.replace(" ", "\n  ")),
    st.sampled_from(_PHRASES).map(lambda p: f"x{p}" if len(p) % 3 else f"{p}_y"),
    st.sampled_from(["trafficking", "Víctimas", "casino's", "18+", "—", "ſlots", "KASINO"]),
    st.text(alphabet="ab .,-_\n1é", max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(_piece, max_size=12), ignore=st.sampled_from(["", "casino poker", "bet"]))
@example(pieces=["SLOTS", "ſlots"], ignore="")  # one word in two spellings is one phrase
def test_marker_prefilter_finds_what_a_full_scan_finds(pieces: list[str], ignore: str) -> None:
    text = " ".join(pieces)
    assert find_markers(text, ignore=ignore) == _markers_by_full_scan(text, ignore)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Víctimas de TRATA", "victimas de trata"),
        ("naïve café Straße", "naive cafe straße"),
        ("שָׁלוֹם", "שלום"),  # Hebrew points are combining marks too
        ("plain ascii", "plain ascii"),
    ],
)
def test_words_are_compared_without_case_or_accents(text: str, folded: str) -> None:
    assert drift._fold(text) == folded


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(
        st.text(alphabet=st.characters(max_codepoint=127), max_size=40),
        st.text(alphabet="Víctimas ſlots_18+ é²\n-", max_size=40),
    )
)
@example(text="U.S. 2nd_edition, e-mail\tx")
def test_fast_word_splitting_reads_the_words_the_patterns_read(text: str) -> None:
    # Relevance and markers split ASCII pages with translate + split instead of the
    # regular expressions; the words (and so every score) must be the same.
    assert drift._words(text) == drift._WORD.findall(text)
    assert drift._any_words(text) == drift._ANY_WORD.findall(text)
    words = drift._WORD.findall(drift._fold(text))  # the terms as first defined
    terms = [drift._stem(w) for w in words if len(w) > 2 and w not in drift._STOP_WORDS]
    assert drift._terms_and_count(text) == (set(terms), len(terms))


#: ASCII letters and separators, accents precomposed and combining, compatibility forms,
#: non-ASCII spaces and punctuation, other scripts.
_FOLD_ALPHABET = (
    "abcXYZ éÉüñçÅİ’“”—©½ﬁ\u0301\u0308\u00a0\u2009.,;-_09ΣσςДあ\u3000'\x85\u2028\u1680\u202f"
)


@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet=_FOLD_ALPHABET, max_size=40))
@example(text="İstanbul’s café—naïve\u00a0x")  # "İ" lowers to "i" and a combining dot
@example(text="e\u0301te ﬁne ½")  # an accent combining with an ASCII letter; compatibility
def test_folding_piece_by_piece_reads_the_words_folding_the_whole_text_reads(text: str) -> None:
    # Non-ASCII pages are cut at ASCII non-letters and only the pieces with other
    # characters are folded; the counted words must be those of folding the whole text.
    whole = Counter(drift._WORD.findall(drift._fold(text)))
    assert drift._folded_word_counts(text) == whole


@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet=_FOLD_ALPHABET, max_size=40))
@example(text="İstanbul’s café—naïve\u00a0x_1")
@example(text="ſlots\u2028SLOTS ﬁne²")
def test_marker_words_cut_piece_by_piece_are_the_words_the_pattern_reads(text: str) -> None:
    # Markers test their phrases' words against the page's: non-ASCII pages are cut at
    # ASCII non-word characters and spaces before the pattern reads the pieces left.
    folded = text.casefold()
    assert drift._any_word_set(folded) == set(drift._ANY_WORD.findall(folded))


def _may_fire_phrase_by_phrase(markers: drift._Markers, words: set[str]) -> bool:
    """The marker pre-test as it was before its phrase index: every phrase tested."""
    possible = 0
    for phrase in (*markers.strong, *markers.weak):
        if set(drift._ANY_WORD.findall(phrase.casefold())) <= words:
            if phrase in markers.strong:
                return True
            possible += 1
    return possible >= markers.weak_needed


#: Every word some marker phrase needs, and words no phrase needs.
_MARKER_VOCABULARY = sorted(
    {w for m in drift._CATEGORIES.values() for needed, _ in drift._phrase_words(m) for w in needed}
)


@settings(max_examples=200, deadline=None)
@given(
    words=st.sets(
        st.sampled_from(_MARKER_VOCABULARY) | st.sampled_from(["report", "victims", "x", "1"]),
        max_size=25,
    )
)
def test_the_marker_pre_test_says_what_testing_every_phrase_says(words: set[str]) -> None:
    # The pre-test spares the big pattern on pages that cannot fire; filed under one word
    # each, the phrases must still make it say yes exactly when testing each phrase would
    # (a page with two weak phrases of one category, one strong, or none).
    for code, markers in drift._CATEGORIES.items():
        assert drift._may_fire(markers, words) == _may_fire_phrase_by_phrase(markers, words), code


def test_each_marker_phrase_makes_its_category_possible_alone_or_with_enough_weak_ones() -> None:
    for code, markers in drift._CATEGORIES.items():
        for phrase in markers.strong:
            assert drift._may_fire(markers, set(drift._ANY_WORD.findall(phrase.casefold()))), (
                code,
                phrase,
            )
        weak = [set(drift._ANY_WORD.findall(p.casefold())) for p in markers.weak]
        if len(weak) >= markers.weak_needed:
            enough = set().union(*weak[: markers.weak_needed])
            assert drift._may_fire(markers, enough), code
            fewer = set().union(*weak[: markers.weak_needed - 1])
            assert drift._may_fire(markers, fewer) == _may_fire_phrase_by_phrase(markers, fewer)


def _terms_and_count_word_by_word(text: str) -> tuple[set[str], int]:
    """`_terms_and_count` as it was before its set difference: a Python step per word."""
    counts = drift._folded_word_counts(text)
    kept = [(w, n) for w, n in counts.items() if len(w) > 2 and w not in drift._STOP_WORDS]
    return {drift._stem(w) for w, _ in kept}, sum(n for _, n in kept)


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=_FOLD_ALPHABET + "the and of is for sexo víctimas ", max_size=80))
@example(text="The victims and the Víctimas of the the trafficking, sale of sale")
def test_terms_and_their_count_are_those_of_judging_each_word(text: str) -> None:
    assert drift._terms_and_count(text) == _terms_and_count_word_by_word(text)


# A report on forced criminality in scam compounds, which speaks of its subject in words a
# casino or crypto-scam page also uses.
SCAM_COMPOUNDS_ENTRY = (
    "Forced Criminality in Online Scam Compounds",
    "How traffickers recruit workers with fake job offers and force them to run online "
    "fraud from compounds in Southeast Asia, and how to identify and assist survivors.",
)
SCAM_COMPOUNDS_PAGE = (
    "Forced Criminality in Online Scam Compounds | Report",
    "Traffickers recruit workers across Asia and Africa with fake job offers, then hold them "
    "in compounds in Southeast Asia and force them to run online fraud. Survivors describe "
    "being made to work in an online casino and for online betting sites, and to lure "
    "victims into fake crypto investment platforms that promise guaranteed returns; the "
    "proceeds are laundered in USDT and bitcoin. The report explains how to identify "
    "survivors of forced criminality, how to assist them, and why they must be treated as "
    "victims of trafficking, not as offenders.",
)


def _scam_compounds(page: tuple[str, str]) -> Relevance:
    return relevance(*SCAM_COMPOUNDS_ENTRY, *page)


def test_a_report_on_scam_compounds_is_no_gambling_or_crypto_site() -> None:
    # Its subject's words (online casino, online betting, crypto, USDT, guaranteed returns)
    # fired two markers, and markers always mean drift: a possible hijack every night.
    assert find_markers(SCAM_COMPOUNDS_PAGE[1]).keys() == {"gambling", "crypto"}
    result = _scam_compounds(SCAM_COMPOUNDS_PAGE)
    assert result.score >= 0.4
    assert result.markers == ()
    assert judge_drift(result, []) is None


def test_a_casino_on_the_scam_compound_reports_domain_is_still_drift() -> None:
    result = _scam_compounds(CASINO)
    assert result.markers == ("gambling",)
    assert judge_drift(result, [0.8, 0.8]) is not None


def test_spam_injected_into_a_page_that_still_matches_is_still_drift() -> None:
    # Hacked sites keep their text and gain a block of spam links: only phrases no report
    # uses of its subject count there, and they still do.
    hacked = (
        SCAM_COMPOUNDS_PAGE[0],
        SCAM_COMPOUNDS_PAGE[1] + " Slot gacor hari ini, situs judi online terpercaya.",
    )
    result = _scam_compounds(hacked)
    assert result.markers == ("gambling",)
    assert judge_drift(result, [0.8, 0.8]) is not None


def test_the_table_of_combining_marks_is_what_unicodedata_flags() -> None:
    # Accent folding strips the marks with a character class read from a table (building it
    # from `unicodedata` took ~0.1 CPU-s in every process); a wrong table folds other words.
    import unicodedata

    from catalog import text

    if unicodedata.unidata_version != text._COMBINING_VERSION:
        pytest.skip(f"the table is for Unicode {text._COMBINING_VERSION}")
    table = [text._span(item) for item in text._COMBINING_RANGES.split()]
    assert table == text._combining_spans()
    assert text.strip_accents("Víctimas ﬁne naïve") == "Victimas fine naive"


# --- a document replaced by a web page ------------------------------------------------------

REPORT = "Annual Report on Human Trafficking Task Forces: Findings for 2019"


def replaced(
    page_title: str | None,
    page_text: str | None,
    was: str | None = "application/pdf",
    now: str | None = "text/html; charset=utf-8",
    flag: str | None = None,
) -> DriftVerdict | None:
    current = relevance(REPORT, None, page_title, page_text)
    return drift.judge_replaced_document(
        current, REPORT, page_title, page_text, was_type=was, now_type=now, drift_reason=flag
    )


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(
            ("Error", "An error occurred The requested document is not available."), id="error"
        ),
        pytest.param(
            ("Example Agency | Home", "Welcome to Example Agency News programs grants contact"),
            id="home-page",
        ),
        pytest.param((None, "Loading..."), id="untitled-shell"),
    ],
)
def test_a_report_pdf_answered_by_another_web_page_is_drift(page: tuple[str, str]) -> None:
    verdict = replaced(*page)
    assert verdict is not None and drift.names_replaced(verdict.reason)
    assert "PDF" in verdict.reason and "application/pdf" in verdict.reason
    assert not drift.names_markers(verdict.reason) and verdict.markers == ()


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(
            ("2019 Annual Report on Human Trafficking Task Forces | Agency", "Download"),
            id="title-names-it",
        ),
        pytest.param(
            ("Publications", f"Publications {REPORT} (PDF, 2 MB) Download"), id="text-names-it"
        ),
        pytest.param(
            ("Reports", "Annual Report on Human Trafficking Task Forces. Read online."),
            id="text-names-its-main-title",
        ),
    ],
)
def test_a_report_pdf_replaced_by_its_landing_page_is_no_drift(page: tuple[str, str]) -> None:
    assert replaced(*page) is None


def test_a_viewer_showing_the_links_file_name_names_it() -> None:
    current = relevance(REPORT, None, "annual report 2019.pdf", "Page 1 of 40 Zoom Download")
    url = "https://example.org/docs/annual%20report%202019.pdf"
    kwargs = {"was_type": "application/pdf", "now_type": "text/html"}
    page = ("annual report 2019.pdf", "Page 1 of 40 Zoom Download")
    assert drift.judge_replaced_document(current, REPORT, *page, url=url, **kwargs) is None
    other = "https://example.org/docs/other.pdf"
    assert drift.judge_replaced_document(current, REPORT, *page, url=other, **kwargs) is not None


def test_the_home_page_listing_some_of_the_title_s_words_does_not_name_it() -> None:
    home = ("Example Agency", "Annual events. Human resources. Task lists. Report a tip.")
    assert replaced(*home) is not None


@pytest.mark.parametrize(
    ("was", "now"),
    [
        pytest.param("text/html", "text/html", id="a-page-stays-a-page"),
        pytest.param(None, "text/html", id="type-never-known"),
        pytest.param("image/png", "text/html", id="no-document"),
        pytest.param("application/pdf", None, id="head-without-type"),
    ],
)
def test_only_a_document_that_became_a_web_page_is_judged_so(
    was: str | None, now: str | None
) -> None:
    assert replaced("Error", "An error occurred.", was, now) is None


@pytest.mark.parametrize("text", ["", None])
def test_a_pdf_read_as_a_pdf_is_no_web_page(text: str | None) -> None:
    # A document's bytes give no text (`content.analyse_body`), its title the PDF's own.
    assert replaced("Error", text, now="application/pdf") is None


@pytest.mark.parametrize("label", ["application/pdf", "application/x-pdf"])
def test_an_error_page_served_under_the_pdf_s_label_is_the_web_page_read(label: str) -> None:
    verdict = replaced("Error", "An error occurred.", now=label)
    assert verdict is not None and drift.names_replaced(verdict.reason)
    assert f"a web page (served as {label})" in verdict.reason


def test_a_word_document_is_named_as_such() -> None:
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    verdict = replaced("Error", "An error occurred.", was=docx)
    assert verdict is not None and "Word document" in verdict.reason


def test_the_flag_holds_once_the_links_type_is_the_pages_until_the_page_names_the_entry() -> None:
    first = replaced("Error", "An error occurred.")
    assert first is not None
    later = replaced("Example Agency | Home", "Welcome", was="text/html", flag=first.reason)
    assert later is not None and later.reason == first.reason
    assert replaced(REPORT, "Download", was="text/html", flag=first.reason) is None
    other = "The page shares almost nothing with the entry"
    assert replaced("Error", "An error occurred.", was="text/html", flag=other) is None

"""'Page not found' in German, Portuguese, Italian, Dutch, Russian, Chinese, Japanese, Korean,
Vietnamese and Arabic: data for `catalog.check.soft404`'s message matcher.

Catalogs list resources in these languages (hotline pages for survivors, national reports),
and a site that answers one missing page with 200 and its own "Seite nicht gefunden" while
it answers other unknown paths with a real 404 is caught by nothing else (the random-path
probe sees the 404). The patterns are written as the sites write them; `plain` brings them
to the form the matcher reads (lower case, accents and apostrophes removed, decomposed as
`catalog.text.strip_accents` decomposes: "найдена" is read as "наидена", Hangul and kana
as their parts), so they keep matching whatever that normalization does to a script. They
must hold no upper-case escape (`\\S`, `\\W`: lowering them changes their meaning) and no
character class of letters outside ASCII (decomposition may make one letter several).

Like the English, Spanish and French ones, each must be the *whole* message: they are
matched against a whole title part, heading or very short text, never searched in prose.
"""

from __future__ import annotations

import re

from catalog.text import strip_accents

__all__ = ["CUES", "CUE_CHARACTERS", "FILLERS", "MESSAGES", "TRAILERS", "plain"]

_APOSTROPHES = re.compile(r"['’`´]")


def plain(pattern: str) -> str:
    """A pattern written with the page's own letters, as the matcher reads text."""
    return _APOSTROPHES.sub("", strip_accents(pattern.lower()))


_DE_THING = r"(?:seite|webseite|internetseite|datei|dokument|ressource|inhalt)"
_DE_WANTED = (
    r"(?: (?:die|das) (?:sie|du) (?:suchen|suchst|gesucht haben|aufgerufen haben"
    r"|aufrufen wollten))?"
)
_PT_THING = r"(?:pagina|documento|arquivo|ficheiro|conteudo|recurso)"
_PT_WANTED = (
    r"(?: (?:que (?:voce )?(?:procura|procurou|esta procurando|solicitou|tentou acessar)"
    r"|solicitad[ao]|pretendida))?"
)
_IT_THING = r"(?:pagina|documento|file|contenuto|risorsa)"
_IT_WANTED = r"(?: (?:che (?:stai cercando|cerchi|hai richiesto|cercavi)|richiest[ao]))?"
_NL_THING = r"(?:pagina|webpagina|bestand|document)"
_NL_WANTED = (
    r"(?: (?:die|dat) (?:je|u) (?:zoekt|zocht|probeert te bereiken|hebt opgevraagd"
    r"|heeft opgevraagd))?"
)
_RU_THING = r"(?:страница|документ|файл|материал)"
_ZH_PAGE = r"(?:页面|网页|頁面|網頁|文件|文档|檔案|内容|內容)"
_ZH_SORRY = r"(?:(?:很|非常)?抱歉 ?|对不起 ?|對不起 ?|哎呀 ?|糟糕 ?|404 ?|错误 ?|錯誤 ?)*"
_JA_SORRY = r"(?:(?:申し訳(?:ありません|ございません)(?:が)?|すみません|404|エラー) ?)*"
_KO_SORRY = r"(?:(?:죄송합니다|404|오류) )*"
_AR_PAGE = r"(?:ال)?(?:صفحة|صفحه|الصفحة|الصفحه)"

#: Whole-message patterns, as written on the pages (see `plain`).
MESSAGES: list[str] = [
    # German ("Seite nicht gefunden", "Die angeforderte Seite wurde nicht gefunden")
    r"(?:fehler )?(?:404 )?(?:(?:die|diese|das|dieses) )?(?:angeforderte |gesuchte |aufgerufene )?"
    rf"{_DE_THING}{_DE_WANTED} (?:wurde |konnte |kann |ist )?(?:leider )?nicht"
    r" (?:mehr )?(?:gefunden|verfügbar|vorhanden)(?: werden)?",
    rf"(?:(?:die|diese|das|dieses) )?(?:angeforderte |gesuchte )?{_DE_THING}{_DE_WANTED}"
    r" existiert (?:leider )?nicht(?: mehr)?",
    rf"(?:(?:die|diese|das|dieses) )?{_DE_THING} (?:wurde )?(?:entfernt|gelöscht)",
    rf"(?:fehler )?(?:404 )?(?:{_DE_THING} )?nicht gefunden",
    # Portuguese ("Página não encontrada", "A página que você procura não existe")
    rf"(?:erro )?(?:404 )?(?:(?:a|esta|o|este) )?{_PT_THING}{_PT_WANTED}"
    r" (?:nao (?:foi |pode ser )?(?:encontrad[ao]|existe|esta disponível)(?: mais)?"
    r"|inexistente|indisponível|foi removid[ao])",
    r"(?:nao (?:foi possível|conseguimos|encontramos|podemos) (?:encontrar )?"
    rf"(?:(?:a|esta|o|este) )?{_PT_THING}{_PT_WANTED})",
    rf"(?:{_PT_THING} )?nao encontrad[ao]",
    # Italian ("Pagina non trovata", "La pagina che stai cercando non esiste")
    rf"(?:errore )?(?:404 )?(?:(?:la|questa|il|questo) )?{_IT_THING}{_IT_WANTED}"
    r" (?:non (?:e stat[ao] )?(?:trovat[ao]|esiste(?: piu)?|e (?:piu )?disponibile)"
    r"|inesistente|non disponibile|e stat[ao] (?:rimoss[ao]|eliminat[ao]))",
    r"(?:(?:impossibile|non (?:riusciamo a|e stato possibile|siamo riusciti a)) )?"
    rf"trovare (?:(?:la|il) )?{_IT_THING}{_IT_WANTED}",
    rf"(?:{_IT_THING} )?non trovat[ao]",
    # Dutch ("Pagina niet gevonden", "De pagina die je zoekt bestaat niet")
    rf"(?:fout )?(?:404 )?(?:(?:de|deze|het|dit) )?(?:opgevraagde )?{_NL_THING}{_NL_WANTED}"
    r" (?:(?:is|werd|kan|kon) )?(?:niet (?:meer )?(?:worden )?(?:gevonden|beschikbaar)"
    r"(?: worden)?|bestaat niet(?: meer)?|is verwijderd)",
    rf"(?:we )?(?:kunnen|konden) (?:de|deze|het|dit) {_NL_THING}{_NL_WANTED} niet (?:meer )?vinden",
    rf"(?:{_NL_THING} )?niet gevonden",
    # Russian ("Страница не найдена", "Такой страницы не существует")
    rf"(?:ошибка )?(?:404 )?(?:запрашиваемая |запрошенная |искомая |эта |данная )?{_RU_THING}"
    r"(?: которую вы ищете)? (?:не (?:найдена|найден|существует|доступна|доступен)"
    r"|(?:была )?удален[аo]?)",
    r"(?:(?:такой|этой|запрашиваемой) )?страницы (?:не существует|больше нет|нет)",
    r"(?:ничего )?не найдено",
    # Chinese, simplified and traditional ("页面不存在", "抱歉，您访问的页面不存在")
    rf"{_ZH_SORRY}(?:(?:您|你)(?:所)?(?:要)?(?:访问|訪問|请求|請求|找|查找|浏览|瀏覽|寻找|尋找)"
    r"的 ?)?"
    rf"(?:该|此|這個|这个|該)?{_ZH_PAGE}(?:不存在|未找到|找不到了?|已(?:被)?(?:删除|刪除|移除)"
    r"|无法找到|無法找到|不见了|不見了|已失效)(?: ?(?:或|或者)已(?:被)?(?:删除|刪除|移除))?",
    rf"{_ZH_SORRY}(?:找不到|无法找到|無法找到|未找到)(?:该|您要的|您请求的|您要找的|你要找的)?"
    rf"{_ZH_PAGE}",
    # Japanese ("ページが見つかりません", "お探しのページは見つかりませんでした")
    rf"{_JA_SORRY}(?:お探しの|指定された|ご指定の|リクエストされた|アクセスしようとした)?"
    r"(?:ページ|ファイル|コンテンツ)(?:は|が)(?:見つかりません(?:でした)?|存在しません"
    r"|削除されました|削除された可能性があります)",
    # Korean ("페이지를 찾을 수 없습니다", "요청하신 페이지가 존재하지 않습니다")
    rf"{_KO_SORRY}(?:(?:요청하신|찾으시는|원하시는) )?(?:페이지|웹페이지|문서|파일)"
    r"(?:를|을|가|이)? (?:찾을 수 (?:없습니다|없음|없어요)|존재하지 않습니다|삭제되었습니다)",
    # Vietnamese ("Không tìm thấy trang", "Trang bạn yêu cầu không tồn tại")
    r"(?:lỗi )?(?:404 )?(?:không (?:thể )?tìm thấy|không có) (?:trang|tài liệu|nội dung)"
    r"(?: (?:bạn|quý khách) (?:yêu cầu|đang tìm|tìm kiếm|cần tìm))?",
    r"(?:lỗi )?(?:404 )?(?:trang|tài liệu|nội dung)(?: (?:bạn|quý khách) (?:yêu cầu|đang tìm"
    r"|tìm kiếm|cần tìm))? (?:không (?:tồn tại|còn tồn tại|tìm thấy)|đã bị xóa)",
    # Arabic ("الصفحة غير موجودة", "لم يتم العثور على الصفحة")
    rf"(?:(?:عذرا|عفوا|خطأ|404) )*{_AR_PAGE}(?: (?:المطلوبة|التي تبحث عنها|التي طلبتها))?"
    r" (?:غير موجودة|غير موجوده|غير متوفرة|لم يتم العثور عليها)",
    r"(?:(?:عذرا|عفوا|خطأ|404) )*(?:لم يتم|تعذر|لا يمكن|لم نتمكن من) (?:العثور على|ايجاد|إيجاد)"
    rf" {_AR_PAGE}(?: المطلوبة)?",
]

#: Words before a message that change nothing ("Hoppla!", "Desculpe,", "К сожалению,").
FILLERS: list[str] = [
    *("hoppla", "leider", "entschuldigung", "es tut uns leid", "fehler"),
    *("ops", "desculpe", "erro", "spiacenti", "ci dispiace", "errore", "oeps", "helaas", "fout"),
    *("упс", "извините", "к сожалению", "ошибка"),
    *("xin lỗi", "rất tiếc", "lỗi", "عذرا", "عفوا", "خطأ", "죄송합니다", "오류"),
]

#: Words after a message that change nothing ("Seite nicht gefunden – Fehler 404").
TRAILERS: list[str] = ["fehler", "erro", "errore", "fout", "ошибка", "lỗi", "خطأ", "오류"]

#: Words of which every message above holds one at least, once `plain` (its fillers' and
#: trailers' words count too), or for Chinese and Japanese, written without spaces, one of
#: `CUE_CHARACTERS`: the matcher tries these messages only on text holding one, so titles
#: that can be none ("Trafficking in Persons Report", "人口贩运问题报告") cost no more than
#: before (tests/test_soft404.py checks the cues over the messages' examples).
CUES: list[str] = [
    *("nicht", "existiert", "entfernt", "gelöscht"),
    *("não", "inexistente", "indisponível", "removido", "removida"),
    *("non", "inesistente", "trovare", "rimossa", "rimosso", "eliminata", "eliminato"),
    *("niet", "verwijderd"),
    *("не", "нет", "удален", "удалена", "удалено"),
    *("không", "xóa"),
    *("غير", "العثور", "ايجاد", "إيجاد"),
    *("없습니다", "없음", "없어요", "않습니다", "삭제되었습니다"),
]
CUE_CHARACTERS = "不未找无無删刪移失见見存削"

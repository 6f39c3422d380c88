"""What kind of software-development task an instruction asks for, from its wording (English and Japanese).

Used to *measure* the task mix of generated instructions (the requested mix is only an intention). Rules are
checked from the most specific task to the most generic ("write a test" is a test task, not a write task).
"""

from __future__ import annotations

import re

from codeja.codeparse import extract_code_blocks
from codeja.quality.programming import mentioned_languages
from codeja.quality.text import strip_code

TASK_TYPES = ("write", "complete", "explain", "review", "fix", "edit", "translate", "test", "refactor", "document")

_RULES: list[tuple[str, str]] = [
    ("translate", (r"\btranslat\w*\b.{0,60}\b(?:to|into)\b|\bconvert\w*\b.{0,40}\b(?:code|program|function|script)\b"
                  r".{0,40}\b(?:to|into)\b|\bport\w*\b.{0,40}\b(?:to|into)\b|\brewrite\b.{0,40}\bin\b"
                  r"|に(?:翻訳|変換|移植|書き換え)|(?:翻訳|移植)して")),
    ("test", (r"\bunit tests?\b|\btest cases?\b|\bwrite (?:some |a few )?tests?\b|\bpytest\b|\bjunit\b"
             r"|テスト(?:コード|ケース)?を(?:書|作)|単体テスト|ユニットテスト")),
    ("fix", (r"\bbugs?\b|\bfix\w*\b|\bdebug\w*\b|\berror\b|\bexception\b|\bdoes(?:n't| not) work\b"
             r"|\bwrong (?:output|result)|\bcrash\w*|バグ|修正|エラー|動きません|動かない|例外|間違っ")),
    ("refactor", r"\brefactor\w*|\bclean(?:er)? up\b|\bmore readable\b|\bsimplif\w+|リファクタ|読みやすく|整理して"),
    ("document", (r"\bdocstrings?\b|\bdocumentation\b|\bdocument (?:this|the|my)\b|\badd comments?\b|\bjsdoc\b"
                 r"|ドキュメント|コメントを(?:付け|追加|書)|docstring")),
    ("review", r"\breview\b|\bcode review\b|\bfeedback on\b|\bimprove\w*\b|\bbest practices?\b|レビュー|改善点|問題点"),
    ("explain", (r"\bexplain\w*\b|\bwhat does\b|\bhow does\b.{0,40}\bwork|\bwhat is the (?:purpose|difference)\b"
                r"|\bunderstand\b|説明|解説|とは何|どういう意味|仕組み")),
    ("edit", (r"\bmodify\b|\bchange\b.{0,60}\bso that\b|\bupdate\b.{0,40}\b(?:to|so)\b|\bnow (?:needs?|should|must)\b"
             r"|\badd (?:support|an? option|a parameter)\b|\bextend\b|仕様(?:が|を)?変更|変更して|に対応(?:させ|する)"
             r"|機能を追加|拡張")),
    ("complete", (r"\bcomplete (?:the|this|my)\b|\bfinish (?:the|this|my)\b|\bfill in\b|\bTODO\b|\bmissing\b"
                 r"|完成させ|補完|続きを|穴埋め")),
    ("write", (r"\bwrite\b|\bimplement\w*\b|\bcreate\b|\bbuild\b|\bgenerate\b|\bfunction (?:that|to|which)\b"
               r"|\bhow (?:do|can) i\b|書いて|実装|作成|作って|関数を|プログラムを")),
]
_RX = [(task, re.compile(p, re.IGNORECASE | re.DOTALL)) for task, p in _RULES]

# "Create a marketing plan" is not a write task: a software task needs code, a named programming language, or
# software vocabulary somewhere in the text.
_SOFTWARE = re.compile(
    r"\b(?:code|coding|function|method|class|program\w*|script|bug|api|algorithm|compil\w+|variable|loop|array|"
    r"database|sql|regex|library|module|unit tests?|snippet|docstring|refactor\w*|debug\w*|exception|syntax)\b"
    r"|コード|関数|メソッド|クラス|プログラム|スクリプト|バグ|アルゴリズム|変数|配列|実装|リファクタ|テスト",
    re.IGNORECASE)


def detect_task_type(text: str) -> str:
    """One of :data:`TASK_TYPES`, or "other" when the wording names no software task."""
    prose = strip_code(text)
    if not (extract_code_blocks(text) or _SOFTWARE.search(prose) or mentioned_languages(text)):
        return "other"
    for task, rx in _RX:
        if rx.search(prose):
            return task
    return "other"

"""Steering system prompts: one per task type, in Japanese and English.

Magpie steers the *user* turn, so each prompt describes what the user's message looks like (magpie-ultra's
lesson: a category prompt that describes the user inputs moves the generated questions). Task types that need
code in the user turn (explain, review, fix, edit, translate, test, refactor, document, complete) say that the
user pastes code in a fenced block; "fix" says the pasted code has a bug, "edit" that a changed specification
follows the code, "translate" names the source and target language.

Placeholders: ``{language}`` and ``{target}`` (display names), ``{fence}`` (the fence tag of the source language).

Two single-prompt presets (``steering.system_prompt``) reproduce earlier experiments:

* ``magpie-coding``: Magpie's own coding system prompt, verbatim, the unsteered baseline (with it Magpie's code
  instructions came out mostly Python);
* ``seed``: the same prompt with the programming language named ("... a wide range of coding questions about the
  {language} programming language."), the one-clause edit the project codeja generalises used to steer languages.
"""

from __future__ import annotations

# Verbatim from magpie-align/magpie, configs/model_configs.json, key "pre_query_template_code" (the system part of
# the Llama-3 code pre-query template used by `--control_tasks code`), commit 07fc38ae888125a87ccad816559626c4a6100393;
# Xu et al., "Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with Nothing", arXiv:2406.08464.
MAGPIE_CODING = (
    "You are an AI assistant designed to provide helpful, step-by-step guidance on coding problems. The user will "
    "ask you a wide range of coding questions.\nYour purpose is to assist users in understanding coding concepts, "
    "working through code, and arriving at the correct solutions."
)
SEED = MAGPIE_CODING.replace("a wide range of coding questions.",
                             "a wide range of coding questions about the {language} programming language.")
PRESETS = {"seed": SEED, "magpie-coding": MAGPIE_CODING}

PREAMBLE = {
    "en": "You are an AI assistant that helps software developers with {language} programming. ",
    "ja": "あなたは{language}のプログラミングでソフトウェア開発者を手助けするAIアシスタントです。",
}

# What the user writes, per task type.
USER_TURN = {
    "en": {
        "write": "The user asks you to write new {language} code: a function, a class or a small program. The "
                 "request says precisely what the code must do, its inputs and outputs, and the constraints and "
                 "edge cases to handle.",
        "complete": "The user pastes unfinished {language} code in a ```{fence} block (a function with its "
                    "signature and docstring but no body, or a program with a marked gap) and asks you to "
                    "complete it.",
        "explain": "The user pastes a {language} snippet in a ```{fence} block and asks you to explain what it "
                   "does, step by step, and why it is written that way.",
        "review": "The user pastes {language} code they wrote in a ```{fence} block and asks for a code review: "
                  "correctness, edge cases, readability, performance and idiomatic {language} style.",
        "fix": "The user pastes {language} code that contains a bug in a ```{fence} block, says what the code "
               "should do and what happens instead (a wrong result, an exception or a failing test), and asks "
               "you to find and fix the bug.",
        "edit": "The user pastes working {language} code in a ```{fence} block, then describes a change to its "
                "specification (a new parameter, a different output format, an extra rule) and asks you to "
                "modify the code to meet the new specification.",
        "translate": "The user pastes {language} code in a ```{fence} block and asks you to translate it into "
                     "idiomatic {target} that behaves exactly the same.",
        "test": "The user pastes a {language} function or class in a ```{fence} block and asks you to write "
                "unit tests for it that cover normal cases, edge cases and errors.",
        "refactor": "The user pastes {language} code that works but is hard to read or maintain in a ```{fence} "
                    "block and asks you to refactor it without changing its behaviour.",
        "document": "The user pastes undocumented {language} code in a ```{fence} block and asks you to add "
                    "docstrings or comments that explain its purpose, parameters and return values.",
    },
    "ja": {
        "write": "ユーザーは新しい{language}のコード（関数、クラス、または小さなプログラム）を書くよう依頼します。"
                 "依頼には、コードが何をすべきか、入力と出力、扱うべき制約や境界条件が具体的に書かれています。",
        "complete": "ユーザーは未完成の{language}のコード（シグネチャとdocstringだけで本体のない関数や、欠けている"
                    "部分が示されたプログラム）を```{fence} ブロックに貼り付け、完成させるよう依頼します。",
        "explain": "ユーザーは{language}のコードを```{fence} ブロックに貼り付け、そのコードが何をしているのか、"
                   "なぜそう書かれているのかを順を追って説明するよう依頼します。",
        "review": "ユーザーは自分が書いた{language}のコードを```{fence} ブロックに貼り付け、正しさ、境界条件、"
                  "読みやすさ、性能、{language}らしい書き方の観点からコードレビューを依頼します。",
        "fix": "ユーザーはバグを含む{language}のコードを```{fence} ブロックに貼り付け、本来どう動くべきか、実際には"
               "何が起きるか（誤った結果、例外、失敗するテスト）を説明し、バグを見つけて修正するよう依頼します。",
        "edit": "ユーザーは正しく動く{language}のコードを```{fence} ブロックに貼り付け、仕様の変更（新しい引数、"
                "出力形式の変更、追加のルールなど）を説明し、新しい仕様に合わせてコードを修正するよう依頼します。",
        "translate": "ユーザーは{language}のコードを```{fence} ブロックに貼り付け、動作を変えずに自然な{target}の"
                     "コードへ移植するよう依頼します。",
        "test": "ユーザーは{language}の関数やクラスを```{fence} ブロックに貼り付け、通常のケース、境界条件、"
                "エラーを網羅する単体テストを書くよう依頼します。",
        "refactor": "ユーザーは動作はするが読みにくく保守しにくい{language}のコードを```{fence} ブロックに貼り付け、"
                    "動作を変えずにリファクタリングするよう依頼します。",
        "document": "ユーザーはドキュメントのない{language}のコードを```{fence} ブロックに貼り付け、目的、引数、"
                    "戻り値を説明するdocstringやコメントを追加するよう依頼します。",
    },
}

# The language the user writes in. Stated last: the closest text to the user turn steers it most.
USER_LANGUAGE = {
    "en": " The user always writes in English.",
    "ja": "ユーザーは必ず日本語で質問を書きます。",
}


def system_prompt_template(task_type: str, instruction_lang: str) -> str:
    """The unformatted steering prompt for a task type in ``instruction_lang`` ("ja" or "en")."""
    return PREAMBLE[instruction_lang] + USER_TURN[instruction_lang][task_type] + USER_LANGUAGE[instruction_lang]

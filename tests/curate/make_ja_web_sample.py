"""Build src/codeja/curate/resources/ja_web_sample.jsonl: original Japanese web-like text for the demo and tests.

Run: ``.venv/bin/python tests/curate/make_ja_web_sample.py``. All text below was written for codeja. Good documents
are built from hand-written paragraphs (four per document, no two documents sharing more than one paragraph, so
they are not near-duplicates of each other); the junk that curation must catch is labelled in ``metadata.expect``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "src" / "codeja" / "curate" / "resources" / "ja_web_sample.jsonl"

PARAGRAPHS = [
    # programming
    "Pythonのリスト内包表記は、ループで新しいリストを作る処理を一行で書ける便利な構文です。ただし、条件や入れ子が増えると読みにくくなるので、複雑な場合は普通のfor文に戻したほうが保守しやすいでしょう。",
    "型ヒントを付けておくと、エディタの補完が賢くなり、関数の使い方を間違えたときにすぐ気づけます。実行時の動作は変わりませんが、チームで開発する場合には読み手への説明書としても役に立ちます。",
    "Gitでブランチを切るときは、作業の目的が一目でわかる名前を付けるのがおすすめです。たとえば機能追加ならfeature、バグ修正ならfixから始めると、あとで履歴を見返したときに迷いません。",
    "テストを書く習慣を身につけると、リファクタリングが怖くなくなります。最初は入力と出力が決まっている小さな関数から始めて、失敗するテストを先に書いてから実装を直す流れに慣れるとよいでしょう。",
    "非同期処理では、待ち時間の長い入出力を並行して進められるため、ネットワークを多く使うプログラムが速くなります。一方で、計算が重い処理は非同期にしても速くならない点に注意が必要です。",
    "データベースのインデックスは、本の索引のようなものです。検索は速くなりますが、書き込みのたびに索引も更新されるため、むやみに増やすと登録や更新の処理が遅くなってしまいます。",
    "エラーメッセージは、問題を解決するための一番の手がかりです。慌てて検索する前に、どのファイルの何行目で、どんな例外が起きたのかを落ち着いて読むだけで、原因がわかることも少なくありません。",
    "コードレビューでは、相手の人格ではなくコードについて話すことが大切です。指摘には理由を添え、良いと思った部分も言葉にして伝えると、チーム全体の雰囲気が良くなり、学び合う文化が育ちます。",
    # news-like
    "気象庁によると、今週末は西日本を中心に広い範囲で雨が降る見込みです。特に山沿いでは雨量が多くなるおそれがあり、土砂災害や川の増水に注意するよう呼びかけています。",
    "市は来年度から、小学校の給食で地元産の野菜を使う割合を増やす方針を明らかにしました。農家との契約を見直し、子どもたちが地域の食文化に親しむ機会を広げたいとしています。",
    "新しい路線バスの運行が今月から始まり、駅から病院までの所要時間がおよそ十五分短くなりました。高齢の利用者からは、乗り換えが減って通院が楽になったという声が上がっています。",
    "県内の観光客数は、三年ぶりに感染症の流行前の水準を回復しました。海外からの旅行者も増えており、案内表示の多言語化や、キャッシュレス決済への対応が課題になっています。",
    "地元の高校生が開発したスマートフォン向けの防災アプリが、全国大会で入賞しました。避難所の混雑状況を地図で確認できる機能が評価され、市は導入に向けた検討を始めると発表しました。",
    # blog
    "休日の朝は、少し早起きして近所の公園を散歩するのが楽しみです。季節ごとに咲く花が変わるので、同じ道を歩いていても毎回ちがう景色に出会えます。帰りにパン屋へ寄るのもお決まりです。",
    "最近、ぬか漬けを始めました。毎日かき混ぜるのは面倒かと思っていましたが、慣れると台所に立つたびに様子を見るのが楽しくなります。きゅうりとにんじんが特においしく漬かりました。",
    "在宅勤務が続くと、仕事と生活の区切りがあいまいになりがちです。私は始業前に必ず着替えて、終業時にはパソコンを閉じて部屋の照明を変えるようにしたところ、気持ちの切り替えがしやすくなりました。",
    "先月、初めて一人で山に登りました。標高はそれほど高くありませんが、頂上から見た雲海は忘れられません。下山後に入った温泉で、足の疲れが一気に抜けていくのを感じました。",
    "図書館で借りた料理の本を参考に、週末に作り置きをしています。平日の夕食の準備が短くなり、外食の回数も減りました。味付けを少しずつ変えると、同じ食材でも飽きずに食べられます。",
    "子どもと一緒に自由研究で星の観察をしました。毎晩同じ時刻に空を見上げ、星座の位置が少しずつ動くことを記録しました。本で調べるよりも、自分の目で確かめたことのほうが記憶に残るようです。",
    # encyclopedic
    "富士山は静岡県と山梨県にまたがる日本最高峰の火山で、標高は三千七百七十六メートルです。古くから信仰の対象とされ、多くの絵画や文学作品に描かれてきました。二〇一三年には世界文化遺産に登録されました。",
    "茶道は、客をもてなすために茶をたてる作法を通じて、心の在り方を大切にする日本の伝統文化です。千利休によって大成されたといわれ、道具の選び方や季節の取り合わせにも細かな決まりがあります。",
    "光合成とは、植物が光のエネルギーを使って、二酸化炭素と水から糖をつくり、酸素を放出するはたらきです。葉の細胞にある葉緑体で行われ、地球上の多くの生き物の食物と酸素を支えています。",
    "江戸時代には、参勤交代によって大名が定期的に江戸と領地を行き来しました。その結果、街道や宿場町が整備され、人や物、情報の流れが活発になり、各地の文化が広く伝わるきっかけになりました。",
    "円周率は、円の周の長さと直径の比を表す定数で、およそ三・一四です。小数点以下が不規則に無限に続く無理数であることが知られており、計算機の性能を試すために多くの桁が求められてきました。",
    "日本語の文字には、ひらがな、カタカナ、漢字の三種類があります。ひらがなは助詞や送りがなに、カタカナは外来語や強調に、漢字は意味を表す語に主に使われ、これらを組み合わせて文章を書きます。",
    "鉄道の標準軌とは、二本のレールの間隔が千四百三十五ミリメートルの線路のことです。日本の新幹線はこの規格を採用していますが、在来線の多くはそれより狭い千六十七ミリメートルの狭軌で作られています。",
    # programming 2 / tech
    "正規表現は文字列の検索や置換にとても強力ですが、書いた本人でさえ後から読み解くのに苦労することがあります。複雑なパターンにはコメントを付けるか、小さな部品に分けて名前を付けると安心です。",
    "機械学習のモデルを評価するときは、学習に使ったデータとは別のデータで試すことが欠かせません。同じデータで測ると、実際よりも良い数字が出てしまい、本番で期待どおりに動かない原因になります。",
    "ログを出力するときは、あとで検索しやすいように、日時や処理の名前、対象のIDなどを決まった形式で残しておきましょう。障害が起きたとき、調査にかかる時間が大きく変わります。",
    "コンテナを使うと、開発者の手元と本番の環境の差を小さくできます。ただし、イメージに不要なファイルを入れると大きくなり、配布や起動に時間がかかるので、何を含めるかは慎重に選びましょう。",
    "関数の名前は、その関数が何をするのかを動詞で表すと読みやすくなります。名前を付けるのに迷う関数は、たいてい一度に多くのことをしすぎているので、分割を考えるよい合図になります。",
    "セキュリティの基本は、利用者から受け取った値を信用しないことです。画面から入力された文字列をそのままデータベースの命令に埋め込むと、思わぬ操作を許してしまうおそれがあります。",
    # society / life
    "地域の清掃活動に参加すると、普段は気づかない街の姿が見えてきます。空き缶の多い場所や、雨の日に水がたまりやすい道など、住民ならではの発見を市役所に伝える仕組みも整ってきました。",
    "家計簿をつけ始めて半年がたちました。細かな支出を記録するうちに、コンビニでの買い物が意外に多いことに気づきました。使い道が見えると、無理な節約をしなくても自然と出費が減っていきます。",
    "睡眠の質を上げるには、寝る前の一時間は明るい画面を見ないことが効果的だといわれます。代わりに紙の本を読んだり、軽いストレッチをしたりすると、体が休む準備を整えやすくなります。",
    "外国語の勉強は、毎日少しずつ続けることが何より大切です。私は通勤の電車で短い記事を一本読むと決めています。わからない単語は帳面に書き留め、週末にまとめて見直すようにしています。",
    "古い家具を自分で修理してみました。ぐらついていた椅子の脚を外し、接着剤を塗り直して一晩固定しただけですが、見違えるほど安定しました。道具の使い方を覚えると、物を大切にする気持ちも強くなります。",
    "農業の現場では、センサーで土の水分や気温を測り、水やりの時期を自動で判断する取り組みが広がっています。人手不足を補うだけでなく、経験の浅い人でも安定した収穫を得やすくなると期待されています。",
    "美術館の企画展では、作品の横に小さな解説を添えるだけでなく、音声案内をスマートフォンで聞けるようになりました。自分のペースで作品と向き合えるので、これまで以上にじっくり鑑賞できます。",
    "小さな会社でも、業務の手順を文書にまとめておくと、担当者が休んだときに仕事が止まりません。完璧な手順書を目指すより、まず箇条書きで残し、気づいたときに書き足していく方法が長続きします。",
]

TITLES = ["今日のメモ", "知っておきたいこと", "週末の記録", "まとめ記事", "ニュースと話題", "考えたこと", "学びの記録",
          "暮らしのヒント", "技術ノート", "地域の話題"]

CODE_TUTORIAL_GOOD = (
    "Pythonで合計を求める方法\n\n"
    "リストの要素をすべて足し合わせたいときは、組み込み関数のsumを使うのが一番簡単です。自分でループを書く練習として、for文で実装した例も見てみましょう。\n\n"
    "```python\ndef total(values):\n    result = 0\n    for v in values:\n        result += v\n"
    "    return result\n```\n\n"
    "このように書くと、処理の流れが一つずつ追えるので、初心者の方にもわかりやすいと思います。実際の開発では、標準の関数を使ったほうが短く、間違いも少なくなります。"
)

PLACEHOLDER_TUTORIALS = [
    ("演習問題: 最大値を求める関数",
     "```python\ndef find_max(values):\n    # ここにコードを書いてください\n    pass\n```"),
    ("練習: 文字列を逆順にする", "```python\ndef reverse(s):\n    # TODO: ここを実装する\n    pass\n```"),
    ("課題: 偶数だけを取り出す", "```javascript\nfunction evens(xs) {\n  // ここに処理を書いてください\n}\n```"),
    ("Javaの練習問題",
     "```java\npublic int sum(int[] xs) {\n    // TODO Auto-generated method stub\n    return 0;\n}\n```"),
    ("Goの演習", "```go\nfunc Count(xs []int) int {\n\t// your code here\n\treturn 0\n}\n```"),
    ("Rustの穴埋め問題", "```rust\nfn area(w: f64, h: f64) -> f64 {\n    todo!()\n}\n```"),
]


def build() -> list[dict]:
    rng = random.Random(20260401)
    docs: list[dict] = []

    def add(text: str, expect: str, kind: str) -> None:
        docs.append({"id": f"jaweb-{len(docs):04d}", "text": text,
                     "metadata": {"url": f"https://example.jp/{kind}/{len(docs)}", "kind": kind, "expect": expect}})

    # good documents: 6 paragraphs, pairwise overlap <= 2 paragraphs
    chosen: list[tuple[int, ...]] = []
    tries = 0
    while len(chosen) < 95 and tries < 200_000:
        tries += 1
        combo = tuple(sorted(rng.sample(range(len(PARAGRAPHS)), 6)))
        if all(len(set(combo) & set(c)) <= 2 for c in chosen):
            chosen.append(combo)
    for i, combo in enumerate(chosen):
        body = "\n\n".join(PARAGRAPHS[j] for j in combo)
        add(f"{TITLES[i % len(TITLES)]}\n\n{body}", "keep", "article")
    good_texts = [d["text"] for d in docs]

    add(CODE_TUTORIAL_GOOD + "\n\n" + "\n\n".join(PARAGRAPHS[i] for i in (0, 3, 6, 27)), "keep", "tutorial")
    for title, code in PLACEHOLDER_TUTORIALS:
        intro = rng.sample(PARAGRAPHS[:8] + PARAGRAPHS[26:32], 5)
        add(f"{title}\n\n{intro[0]}\n\n{intro[1]}\n\n次の関数を完成させてください。\n\n{code}\n\n{intro[2]}\n\n{intro[3]}\n\n{intro[4]}",
            "placeholder", "tutorial")

    # exact and near duplicates of good documents
    for i in range(4):
        add(good_texts[i], "exact_duplicate", "mirror")
    for i in range(4, 8):
        add(good_texts[i].replace("。", "。", 1) + "\n\n（この記事は転載です）", "near_duplicate", "mirror")

    # boilerplate menus and repeated lines
    menu = ["ホーム", "会社概要", "事業内容", "採用情報", "お問い合わせ", "サイトマップ", "プライバシーポリシー",
            "ログイン"]
    for _ in range(8):
        lines = ([" | ".join(rng.sample(menu, 5)) for _ in range(3)]
                 + ["ホーム", "お問い合わせ", "ホーム", "お問い合わせ"] * 6)
        add("\n".join(lines) + "\nCopyright 2026 サンプル株式会社 All rights reserved.", "drop", "boilerplate")
    for i in range(6):
        line = ["本日のおすすめ商品はこちらです。", "ただいまセール開催中です。",
                "会員登録で送料が無料になります。"][i % 3]
        add("\n".join([line] * 30 + [PARAGRAPHS[i + 10], PARAGRAPHS[i + 20], PARAGRAPHS[i + 30]]), "drop",
            "repeated_lines")
    # keyword spam
    words = ["激安", "通販", "最安値", "送料無料", "人気", "ランキング", "口コミ", "おすすめ", "比較", "格安"]
    for _ in range(8):
        add(" ".join(rng.choice(words) for _ in range(200)), "drop", "keyword_spam")
    # NG words (adult / gambling spam) inside otherwise Japanese-looking text
    for i in range(6):
        spam = "アダルトの無修正エロ動画と出会い系はこちら。オンラインカジノとスーパーコピーもあります。"
        add(f"{spam * 3}\n{PARAGRAPHS[(i * 3) % len(PARAGRAPHS)]}\n{PARAGRAPHS[(i * 3 + 1) % len(PARAGRAPHS)]}\n"
            f"{PARAGRAPHS[(i * 3 + 2) % len(PARAGRAPHS)]}\n{spam * 2}", "drop", "ng_words")
    # mostly English pages
    english = [
        ("This page explains how to configure the build system. First, install the dependencies with your package "
         "manager, then run the configure script and check the generated settings before compiling the project."),
        ("Our team spent the weekend hiking in the mountains. The weather was perfect, the trail was quiet, and we "
         "finished the day with a long dinner at a small restaurant near the station."),
        ("The committee approved the new budget on Tuesday. Funding for public libraries will increase slightly, "
         "while several road projects have been postponed until next year because of rising costs."),
        ("Release notes: fixed a crash when opening large files, improved startup time, and updated the "
         "translations. Thanks to everyone who reported bugs and tested the beta versions."),
    ]
    for i in range(8):
        add(f"{english[i % 4]} {english[(i + 1) % 4]} {english[(i + 2) % 4]}\n\n日本語版はこちら", "drop", "english")
    # Chinese text (language ID)
    chinese = ["今天天气很好，我们一起去公园散步。公园里有很多人在锻炼身体，孩子们在草地上玩耍，老人们在树下下棋聊天。",
               "这个软件可以帮助用户管理日常任务。它支持提醒功能，也可以和同事共享列表，让团队合作更加方便高效。",
               "城市交通问题越来越严重，政府计划扩建地铁线路，并鼓励市民使用公共交通工具和自行车出行。"]
    for i in range(3):
        add((chinese[i] + chinese[(i + 1) % 3]) * 3, "drop", "chinese")
    # katakana-heavy product listing
    for _ in range(2):
        add(" ".join(["スマートフォンケース", "ワイヤレスイヤホン", "モバイルバッテリー", "タブレットスタンド",
                      "ブルートゥーススピーカー", "キーボードカバー"] * 12) + "。", "drop", "katakana")
    # too short
    for s in ["よろしくお願いします。", "続きはこちら", "ページが見つかりません。", "読み込み中…",
              "ありがとうございました！",
              "準備中です。しばらくお待ちください。", "ログインしてください。", "本日は休業日です。"]:
        add(s, "drop", "too_short")
    return docs


if __name__ == "__main__":
    rows = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {OUT}: {len(rows)} documents, {OUT.stat().st_size:,} bytes")

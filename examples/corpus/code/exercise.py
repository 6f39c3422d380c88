"""練習問題: 文字列を逆順にして返す関数を書きなさい。"""


def reverse(text: str) -> str:
    """text を逆順にした文字列を返す。"""
    # TODO: ここを実装する
    raise NotImplementedError

"""演習 3: リストの中で最も大きい値を返す関数を完成させてください。"""


def max_value(values: list[int]) -> int:
    """values の最大値を返す。空のリストなら ValueError を送出する。"""
    # ここにコードを書いてください


if __name__ == "__main__":
    print(max_value([3, 1, 4, 1, 5]))

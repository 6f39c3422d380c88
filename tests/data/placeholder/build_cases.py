"""Build the labelled placeholder set (cases.jsonl) from hand-written fragments.

Run from the repo root: ``.venv/bin/python tests/data/placeholder/build_cases.py``. The output is committed; this
script documents how it was made and lets anyone extend it. Every fragment below was written for this set.

Labels: ``1`` = the document is a fill-in placeholder / stub that curation must drop; ``0`` = legitimate code or
prose, including the known traps (developer TODOs before real code, abstract methods, ``NotImplementedError`` in
base classes, ``pass`` in ``except`` blocks, interface declarations, ``todo`` identifiers, Japanese tutorial prose).
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).with_name("cases.jsonl")

# ---------------------------------------------------------------------------------------------------------------
# skeletons: {body} is indented for the language; {name} a function name

PY_FUNCS = [
    ("moving_average", ('def moving_average(values, window):\n'
                        '    """Return the moving averages of values over window."""\n    {body}\n')),
    ("count_words", "def count_words(text: str) -> dict[str, int]:\n    {body}\n"),
    ("Stack.push", ("class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):\n"
                    "        {body}\n")),
]
PY_BODIES = [
    "# YOUR CODE HERE\n    raise NotImplementedError()",
    "# TODO: implement this function\n    pass",
    "pass  # your code here",
    "# Write your code here\n    return None",
    "# ここにコードを書いてください\n    pass",
    "# TODO: ここを実装する\n    pass",
    "# 以下に処理を記述してください\n    ...",
    "### BEGIN SOLUTION\n    return sum(values) / len(values)\n    ### END SOLUTION",
    "# TODO: complete the function body\n    return 0",
    'raise NotImplementedError("TODO: implement")',
    "# Insert your code here\n    pass",
    "# ここを埋めてください\n    pass",
    "### START CODE HERE ### (≈ 2 lines of code)\n    result = None\n    ### END CODE HERE ###\n    return result",
    "# TODO: write the solution\n    ...",
    "# この関数の中に解答を書きなさい\n    pass",
    "# TODO\n    pass",
    "# FIXME: implement me\n    return None",
    "# code goes here\n    pass",
]
C_STYLE = {
    # language: (skeleton with {body} at 4 spaces, stub line(s))
    "javascript": ("function {name}(items) {{\n    {body}\n}}\n\nmodule.exports = {{ {name} }};\n", "return null;"),
    "typescript": ("export function {name}(items: number[]): number {{\n    {body}\n}}\n", "return 0;"),
    "java": ("public class Solution {{\n    public int {name}(int[] items) {{\n    {body}\n    }}\n}}\n",
             'throw new UnsupportedOperationException("TODO");'),
    "cpp": ("#include <vector>\n\nint {name}(const std::vector<int>& items) {{\n    {body}\n}}\n", "return 0;"),
    "go": ("package solution\n\nfunc {name}(items []int) int {{\n    {body}\n}}\n", 'panic("not implemented")'),
    "rust": ("pub fn {name}(items: &[i32]) -> i32 {{\n    {body}\n}}\n", "todo!()"),
    "csharp": ("public class Solver\n{{\n    public int {name}(int[] items)\n    {{\n    {body}\n    }}\n}}\n",
               "throw new NotImplementedException();"),
    "php": ("<?php\nfunction {name}(array $items): int {{\n    {body}\n}}\n", "return 0;"),
}
C_BODIES = [
    "// TODO: implement\n    {stub}",
    "// Your code here\n    {stub}",
    "// Write your code here\n    {stub}",
    "// ここにコードを書いてください\n    {stub}",
    "// TODO: ここを実装\n    {stub}",
    "/* your code goes here */\n    {stub}",
    "// FIXME: write this function\n    {stub}",
    "{stub} // TODO",
    "// TODO: implement this method\n",
]
C_NAMES = {"javascript": "maxProfit", "typescript": "sumEven", "java": "longestRun", "cpp": "count_pairs",
           "go": "SumSquares", "rust": "max_gap", "csharp": "CountPeaks", "php": "median"}

OTHER_POSITIVES = [
    ("java", ("public class Parser {\n    @Override\n    public Node parse(String input) {\n"
              "        // TODO Auto-generated method stub\n        return null;\n    }\n}\n")),
    ("java", ("class Shape {\n    public double area() {\n"
              "        throw new UnsupportedOperationException(\"Not supported yet.\");\n    }\n}\n")),
    ("java", ("try {\n    run();\n} catch (IOException e) {\n    // TODO Auto-generated catch block\n"
              "    e.printStackTrace();\n}\n")),
    ("kotlin", "fun fibonacci(n: Int): Long {\n    TODO(\"Not yet implemented\")\n}\n"),
    ("sql", "-- Exercise 3: list customers with more than five orders\nSELECT\n    -- Write your query here\n;\n"),
    ("sql", "/* 問題2: 部署ごとの平均給与 */\n-- ここにSQLを書いてください\n-- ここにコードを書いてください\n"),
    ("ruby", "def palindrome?(word)\n  # your code here\nend\n"),
    ("ruby", "class Account\n  def deposit(amount)\n    # TODO: implement\n  end\nend\n"),
    ("bash", "#!/bin/bash\n# backup.sh: copy the logs\nbackup() {\n  # TODO: implement the backup\n}\n"),
    ("c", "#include <stdio.h>\n\nint gcd(int a, int b) {\n    /* YOUR CODE HERE */\n    return 0;\n}\n"),
    ("python", ("Here is the function you asked for:\n\n```python\ndef reverse_words(s):\n"
                "    # TODO: implement this function\n    pass\n```\n")),
    ("python", "以下が解答です。\n\n```python\ndef is_prime(n):\n    # ここに処理を実装してください\n    pass\n```\n"),
    ("python", "def solve(grid):\n    \"\"\"Count the islands in grid.\"\"\"\n    # TODO: implement this function"),
    ("python", "# Exercise 4\n# Replace this line with your code\nanswer = None\n"),
    ("python", "def area(r):\n    <your code here>\n"),
    ("python", "def area(r):\n    \"\"\"Return the circle area.\n\n    YOUR ANSWER HERE\n    \"\"\"\n"),
    ("markdown", ("## 演習 3\n\n次の関数を完成させましょう。\n\n```js\nfunction add(a, b) {\n"
                  "  // ここに処理を書いてください\n}\n```\n")),
    ("javascript", "const sortUsers = (users) => {\n  // implement me\n};\n"),
    ("typescript", ("class Cache<K, V> {\n  get(key: K): V | undefined {\n    // TODO: implement the lookup\n"
                    "    return undefined;\n  }\n}\n")),
    ("go", ("func (s *Server) Shutdown(ctx context.Context) error {\n\t// TODO: implement graceful shutdown\n"
            "\treturn nil\n}\n")),
    ("rust", ("impl Solution {\n    pub fn two_sum(nums: Vec<i32>, target: i32) -> Vec<i32> {\n        todo!()\n"
              "    }\n}\n")),
    ("cpp", "class Solution {\npublic:\n    int climbStairs(int n) {\n        // write your code here\n    }\n};\n"),
    ("python", "def main():\n    # 解答欄はここ\n    pass\n"),
    ("python", ("import numpy as np\n\ndef sigmoid(z):\n    ### START CODE HERE ### (≈ 1 line of code)\n    s = None\n"
                "    ### END CODE HERE ###\n    return s\n")),
]

# ---------------------------------------------------------------------------------------------------------------
# negatives

PY_REAL = [
    "total = 0\n    for v in values:\n        total += v\n    return total",
    ("if not text:\n        return {}\n    counts = {}\n    for w in text.split():\n"
     "        counts[w] = counts.get(w, 0) + 1\n    return counts"),
    "self.items.append(item)\n        return len(self.items)",
]
LEGIT_TODO_PY = [
    "# TODO(alice): handle unicode normalisation",
    "# TODO: implement this in C for speed.",
    "# FIXME: this is quadratic in the worst case",
    "# TODO: remove after the 3.0 migration",
    "# TODO: write a faster version using numpy",
    "# TODO: ここはキャッシュしたほうがよい",
    "# TODO: 実装を高速化する (issue #42)",
    "# XXX: the window may be larger than the list",
    "# TODO: make the window configurable",
    "# TODO: code review asked for a clearer name",
]
LEGIT_TODO_C = [
    "// TODO(bob): handle overflow",
    "// TODO: implement a SIMD version later",
    "// FIXME: O(n^2), fine for small inputs",
    "// TODO: 例外処理を追加する",
    "/* TODO: remove once the API is stable */",
    "// TODO: write benchmarks for this",
]
C_REAL = {
    "javascript": ("let best = 0;\n    for (const x of items) {\n        best = Math.max(best, x);\n    }\n"
                   "    return best;"),
    "typescript": "return items.filter((x) => x % 2 === 0).reduce((a, b) => a + b, 0);",
    "java": ("int run = 0, best = 0;\n        for (int x : items) {\n            run = x > 0 ? run + 1 : 0;\n"
             "            best = Math.max(best, run);\n        }\n        return best;"),
    "cpp": ("int n = 0;\n    for (size_t i = 0; i + 1 < items.size(); ++i) {\n"
            "        if (items[i] == items[i + 1]) ++n;\n    }\n    return n;"),
    "go": "total := 0\n    for _, x := range items {\n        total += x * x\n    }\n    return total",
    "rust": "items.windows(2).map(|w| (w[1] - w[0]).abs()).max().unwrap_or(0)",
    "csharp": ("int peaks = 0;\n        for (int i = 1; i + 1 < items.Length; i++)\n"
               "            if (items[i] > items[i - 1] && items[i] > items[i + 1]) peaks++;\n        return peaks;"),
    "php": "sort($items);\n    return $items[intdiv(count($items), 2)];",
}

# more real Python functions, each tried with every legitimate TODO above (marker at the top of the body)
PY_REAL_FUNCS = [
    "def chunks(seq, n):\n    {todo}\n    for i in range(0, len(seq), n):\n        yield seq[i:i + n]\n",
    "def read_config(path):\n    {todo}\n    with open(path, encoding=\"utf-8\") as f:\n        return json.load(f)\n",
    ("async def fetch(session, url):\n    {todo}\n    async with session.get(url) as resp:\n"
     "        resp.raise_for_status()\n        return await resp.text()\n"),
    ("def normalize(name):\n    {todo}\n    name = unicodedata.normalize(\"NFKC\", name)\n"
     "    return name.strip().lower()\n"),
    ("class Retry:\n    def __call__(self, fn):\n        {todo}\n        for attempt in range(self.tries):\n"
     "            try:\n                return fn()\n            except TimeoutError:\n"
     "                time.sleep(2 ** attempt)\n        raise TimeoutError(fn)\n"),
]

NEG_FIXED = [
    # abstract methods, base classes, protocols, interfaces
    ("python", ("from abc import ABC, abstractmethod\n\nclass Shape(ABC):\n    @abstractmethod\n"
                "    def area(self) -> float:\n        ...\n\n    @abstractmethod\n    def perimeter(self) -> float:\n"
                "        raise NotImplementedError\n")),
    ("python", ("class Storage:\n    def save(self, key, value):\n"
                "        \"\"\"Subclasses must implement this.\"\"\"\n        raise NotImplementedError\n\n"
                "    def load(self, key):\n        raise NotImplementedError(\"subclasses implement load()\")\n")),
    ("python", "class Base:\n    def run(self):\n        # TODO: subclasses override this hook\n        pass\n"),
    ("python", ("from typing import Protocol\n\nclass Reader(Protocol):\n"
                "    def read(self, n: int = -1) -> bytes: ...\n    def close(self) -> None: ...\n")),
    ("python", ("from typing import overload\n\n@overload\ndef get(key: str) -> str: ...\n@overload\n"
                "def get(key: int) -> int: ...\ndef get(key):\n    return registry[key]\n")),
    ("python", ("class ConfigError(Exception):\n    pass\n\n\nclass ParseError(ConfigError):\n"
                "    \"\"\"Raised when a file cannot be parsed.\"\"\"\n")),
    ("python", "try:\n    import ujson as json\nexcept ImportError:\n    import json\n"),
    ("python", "def close(self):\n    try:\n        self.sock.close()\n    except OSError:\n        pass  # TODO\n"),
    ("python", ("for path in paths:\n    try:\n        os.remove(path)\n    except FileNotFoundError:\n"
                "        # TODO: log this\n        pass\n")),
    ("python", ("def cleanup(tmp):\n    try:\n        shutil.rmtree(tmp)\n    except OSError:\n"
                "        pass  # TODO: implement retry on Windows\n")),
    ("python", "if TYPE_CHECKING:\n    from .models import User\nelse:\n    pass\n"),
    ("python", ("todo_list = []\n\ndef add_todo(title):\n    todo = {\"title\": title, \"done\": False}\n"
                "    todo_list.append(todo)\n    return todo\n")),
    ("python", "def show(todos):\n    for todo in todos:\n        print(\"TODO:\", todo.title)\n"),
    ("python", ("class NotImplementedYet(Exception):\n"
                "    \"\"\"Raised by the API for endpoints that are planned.\"\"\"\n\ndef handler(req):\n"
                "    return NotImplemented\n")),
    ("python", ("def __eq__(self, other):\n    if not isinstance(other, Point):\n        return NotImplemented\n"
                "    return (self.x, self.y) == (other.x, other.y)\n")),
    ("python", "# Run your code with `python main.py` and check the output.\nimport sys\n\nprint(sys.argv)\n"),
    ("python", ("\"\"\"Tools that make your code faster.\n\n"
                "You can write your own plugins: subclass Plugin and register it.\n\"\"\"\nclass Plugin:\n"
                "    name = \"base\"\n")),
    ("python", ("def implement(plan):\n    \"\"\"Implement the plan step by step.\"\"\"\n    for step in plan:\n"
                "        step.apply()\n")),
    ("python", "# 以下にコードを書きます。まずはリストを用意します。\nitems = [3, 1, 2]\nitems.sort()\nprint(items)\n"),
    ("python", ("# この関数はキャッシュを実装しています\ndef cached(fn):\n    memo = {}\n    def wrapper(*a):\n"
                "        if a not in memo:\n            memo[a] = fn(*a)\n        return memo[a]\n"
                "    return wrapper\n")),
    ("python", ("def parse(line):\n    # TODO: implement the escape rules of RFC 4180\n"
                "    fields = line.split(\",\")\n    return [f.strip() for f in fields]\n")),
    ("python", ("def main():\n    # TODO: write the results to a CSV file as well\n    results = run()\n"
                "    print(results)\n")),
    ("java", ("public interface Repository<T> {\n    T findById(long id);\n    List<T> findAll();\n"
              "    void save(T entity);\n}\n")),
    ("java", ("public abstract class Animal {\n    public abstract String sound();\n\n    public String describe() {\n"
              "        return getClass().getSimpleName() + \" says \" + sound();\n    }\n}\n")),
    ("java", "try {\n    Files.delete(path);\n} catch (NoSuchFileException e) {\n    // TODO: nothing to do\n}\n"),
    ("java", ("class ReadOnlyList<E> extends AbstractList<E> {\n    @Override\n    public E set(int i, E e) {\n"
              "        throw new UnsupportedOperationException(\"read-only\");\n    }\n}\n")),
    ("typescript", ("export interface User {\n  id: number;\n  name: string;\n  email?: string;\n}\n\n"
                    "export type Handler = (u: User) => void;\n")),
    ("typescript", ("abstract class Shape {\n  abstract area(): number;\n  describe(): string {\n"
                    "    return `area=${this.area()}`;\n  }\n}\n")),
    ("go", "type Store interface {\n\tGet(key string) ([]byte, error)\n\tPut(key string, value []byte) error\n}\n"),
    ("go", ("func mustClose(c io.Closer) {\n\tif err := c.Close(); err != nil {\n\t\t// TODO: report the error\n\t}\n"
            "}\n")),
    ("rust", ("pub trait Shape {\n    fn area(&self) -> f64;\n    fn name(&self) -> &str {\n        \"shape\"\n    }\n"
              "}\n")),
    ("rust", ("fn classify(n: u8) -> &'static str {\n    match n {\n        0 => \"zero\",\n"
              "        1..=9 => \"digit\",\n        _ => unreachable!(),\n    }\n}\n")),
    ("cpp", "class Shape {\npublic:\n    virtual ~Shape() = default;\n    virtual double area() const = 0;\n};\n"),
    ("cpp", ("void Logger::flush() {\n    // TODO(carol): batch writes\n    for (const auto& line : buffer_) {\n"
             "        out_ << line << '\\n';\n    }\n    buffer_.clear();\n}\n")),
    ("csharp", ("public interface IClock\n{\n    DateTime Now { get; }\n}\n\n"
                "public sealed class SystemClock : IClock\n{\n    public DateTime Now => DateTime.UtcNow;\n}\n")),
    ("csharp", ("public override Task FlushAsync(CancellationToken token)\n{\n"
                "    throw new NotImplementedException();\n}\n")),
    ("javascript", ("class TodoList {\n  constructor() { this.todos = []; }\n"
                    "  add(title) { this.todos.push({ title, done: false }); }\n}\n")),
    ("javascript", ("// TODO: remove this polyfill when we drop IE11\nif (!Array.prototype.includes) {\n"
                    "  Array.prototype.includes = function (x) { return this.indexOf(x) !== -1; };\n}\n")),
    ("sql", ("-- TODO: add an index on orders(customer_id)\nSELECT c.name, COUNT(o.id) AS n\n"
             "FROM customers c JOIN orders o ON o.customer_id = c.id\nGROUP BY c.name;\n")),
    ("ruby", ("def each_pair\n  return enum_for(:each_pair) unless block_given?\n  @h.each { |k, v| yield k, v }\n"
              "end\n")),
    ("bash", "#!/bin/bash\nset -e\n# TODO: support macOS\nfor f in *.log; do\n  gzip \"$f\"\ndone\n"),
    ("markdown", ("# TODO アプリの作り方\n\n"
                  "この記事では、タスク管理 (TODO) アプリを React で作ります。以下にコードを書きます。\n\n```js\n"
                  "const [todos, setTodos] = useState([]);\n```\n")),
    ("markdown", ("## 使い方\n\n"
                  "関数を実装したら、`pytest` でテストを実行してください。コードを書いたら必ずテストしましょう。\n")),
    ("text", "Paste the error message, not a screenshot. Reviewers need to see your code and the full traceback."),
    ("text", ("第3章では、ソートアルゴリズムを実装します。以下に実装したコードを示します。"
              "クイックソートは平均 O(n log n) です。")),
    ("text", "Implementing a parser by hand is a good exercise: write the tokenizer first, then the grammar rules."),
]


def indent_body(body: str, extra: str = "") -> str:
    return body.replace("\n", "\n" + extra)


def build() -> list[dict]:
    cases: list[dict] = []

    def add(label: int, language: str, code: str, note: str) -> None:
        cases.append({"id": f"{'pos' if label else 'neg'}-{len(cases):04d}", "label": label, "language": language,
                      "note": note, "code": code})

    # positives
    for fname, skel in PY_FUNCS:
        ind = "    " if "class" in skel else ""
        for i, body in enumerate(PY_BODIES):
            add(1, "python", skel.format(body=indent_body(body, ind)), f"python body {i} in {fname}")
    for lang, (skel, stub) in C_STYLE.items():
        for i, body in enumerate(C_BODIES):
            code = skel.format(name=C_NAMES[lang], body=body.format(stub=stub))
            add(1, lang, code, f"{lang} body {i}")
    for lang, code in OTHER_POSITIVES:
        add(1, lang, code, "misc positive")

    # negatives: legitimate TODOs before real code, per language and per function
    for fname, skel in PY_FUNCS:
        ind = "    " if "class" in skel else ""
        real = PY_REAL[PY_FUNCS.index((fname, skel))]
        for todo in LEGIT_TODO_PY:
            add(0, "python", skel.format(body=indent_body(f"{todo}\n    {real}", ind)), f"legit todo in {fname}")
        add(0, "python", skel.format(body=indent_body(real, ind)), f"plain {fname}")
    for skel in PY_REAL_FUNCS:
        for todo in LEGIT_TODO_PY:
            add(0, "python", skel.format(todo=todo), "legit todo in a real function")
    for lang, (skel, _) in C_STYLE.items():
        real = C_REAL[lang]
        for todo in LEGIT_TODO_C:
            add(0, lang, skel.format(name=C_NAMES[lang], body=f"{todo}\n    {real}"), f"{lang} legit todo")
        add(0, lang, skel.format(name=C_NAMES[lang], body=real), f"{lang} plain")
    for lang, code in NEG_FIXED:
        add(0, lang, code, "trap")
    # pass / empty handlers and abstract stubs in several shapes and names
    handlers = ["OSError", "KeyError", "ValueError", "ImportError", "StopIteration", "AttributeError"]
    comments = ["", "  # ignore", "  # TODO", "  # best effort", "  # TODO: maybe warn"]
    for h in handlers:
        for c in comments:
            add(0, "python", f"def safe_{h.lower()}(fn):\n    try:\n        return fn()\n    except {h}:\n"
                f"        pass{c}\n", "pass in except")
    for name in ["area", "volume", "render", "serialize", "validate", "connect", "encode", "decode", "step", "reset"]:
        add(0, "python", f"class Base{name.title()}:\n    def {name}(self, *args):\n"
            "        raise NotImplementedError(\n"
            f"            f\"{{type(self).__name__}} must implement {name}()\"\n        )\n",
            "NotImplementedError in base class")
        add(0, "python", f"import abc\n\nclass {name.title()}er(abc.ABC):\n    @abc.abstractmethod\n"
            f"    def {name}(self):\n        pass\n", "abstractmethod with pass")
        add(0, "java", f"public interface {name.title()}able {{\n    void {name}();\n"
            f"    default boolean can{name.title()}() {{ return true; }}\n}}\n", "java interface")
        add(0, "go", f"type {name.title()}er interface {{\n\t{name.title()}(ctx context.Context) error\n}}\n",
            "go interface")
        add(0, "typescript", f"export interface {name.title()}Options {{\n  {name}(): Promise<void>;\n"
            "  retries?: number;\n}\n", "ts interface")
        add(0, "rust", f"pub trait {name.title()} {{\n    fn {name}(&mut self) -> Result<(), Error>;\n}}\n",
            "rust trait")
        add(0, "cpp", f"struct I{name.title()} {{\n    virtual ~I{name.title()}() = default;\n"
            f"    virtual void {name}() = 0;\n}};\n", "cpp pure virtual")
        add(0, "csharp", f"public abstract class {name.title()}Base\n{{\n    public abstract void {name.title()}();\n"
            "}\n", "csharp abstract")
    # identifiers and strings that mention todo / your code
    for i, s in enumerate(["Format your code with black before committing.", "Keep your code simple.",
                           "We will review your code on Monday.", "Your code is licensed under MIT.",
                           "ユーザーのTODOリストを表示する", "TODO: buy milk",
                           "コードをここに貼り付けないでください（スクリーンショット禁止）"]):
        add(0, "python", f"MESSAGES = {{\n    'hint_{i}': {json.dumps(s, ensure_ascii=False)},\n}}\n",
            "string mentions")
    return cases


if __name__ == "__main__":
    rows = build()
    with OUT.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    pos = sum(r["label"] for r in rows)
    print(f"wrote {OUT}: {pos} positives, {len(rows) - pos} negatives, "
          f"{len({r['language'] for r in rows if r['label']})} positive languages")

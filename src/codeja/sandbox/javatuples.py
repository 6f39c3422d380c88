"""codeja's own ``org.javatuples`` classes, on the class path of every Java program the sandbox runs.

MultiPL-E's Java prompts start with ``import org.javatuples.*;`` and its evaluator compiles and runs them with
``javatuples-1.2.jar`` on the class path. That jar is published on Maven Central only, which the set-up cannot
reach (Debian has no package of it), so these classes are written here, generated from one template rather than
copied: ``Unit`` ... ``Decade`` with the javatuples 1.2 API a program is likely to call (constructors, ``with``,
``fromArray`` / ``fromCollection`` / ``fromIterable``, ``getValueN``, ``getValue(int)``, ``getSize``, ``setAtN``,
``addAtN`` / ``add`` of one value, ``removeFromN``, ``contains`` / ``containsAll`` / ``indexOf``, ``toList`` /
``toArray``, iteration, ``equals`` / ``hashCode`` / ``compareTo``, and ``toString`` as ``[a, b]``). The
MultiPL-E data itself uses only ``Pair.with`` and ``equals``. Not provided: ``KeyValue``, ``LabelValue`` and
the overloads taking other tuples (``add(Pair)``, ``addAt0(Pair)``).

The classes are compiled once per javac version into the sandbox cache (``<cache>/javatuples/<hash>``), outside
the sandbox (our own trusted source, like the prebuilt Rust crates), and bound read-only into every Java compile
and run.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from functools import cache
from pathlib import Path

log = logging.getLogger("codeja.sandbox")

NAMES = ("Unit", "Pair", "Triplet", "Quartet", "Quintet", "Sextet", "Septet", "Octet", "Ennead", "Decade")
TYPES = "ABCDEFGHIJ"
_lock = threading.Lock()

_TUPLE = """package org.javatuples;

import java.io.Serializable;
import java.util.*;

/** Base of every tuple: an immutable, ordered, comparable list of values. */
public abstract class Tuple implements Iterable<Object>, Serializable, Comparable<Tuple> {
    private final Object[] values;
    private final List<Object> list;

    protected Tuple(final Object... values) {
        this.values = values;
        this.list = Arrays.asList(values);
    }

    /** The first {@code size} values of {@code iterable} from {@code index} on (missing ones are null). */
    protected static <X> List<X> take(final Iterable<X> iterable, final int index, final int size,
                                      final boolean exact) {
        if (iterable == null) throw new IllegalArgumentException("Iterable cannot be null");
        final List<X> out = new ArrayList<X>();
        int i = 0, seen = 0;
        for (final X x : iterable) {
            if (i++ < index) continue;
            seen++;
            if (out.size() < size) out.add(x);
        }
        if (exact && seen != size)
            throw new IllegalArgumentException("Iterable must have exactly " + size + " elements");
        while (out.size() < size) out.add(null);
        return out;
    }

    public abstract int getSize();

    public final Object getValue(final int pos) {
        if (pos < 0 || pos >= values.length)
            throw new IllegalArgumentException("Cannot retrieve position " + pos + " in "
                + getClass().getSimpleName() + ": positions go from 0 to " + (values.length - 1));
        return values[pos];
    }

    public final Iterator<Object> iterator() { return Collections.unmodifiableList(list).iterator(); }
    public final boolean contains(final Object value) { return list.contains(value); }
    public final boolean containsAll(final Collection<?> collection) { return list.containsAll(collection); }
    public final boolean containsAll(final Object... values) { return list.containsAll(Arrays.asList(values)); }
    public final int indexOf(final Object value) { return list.indexOf(value); }
    public final int lastIndexOf(final Object value) { return list.lastIndexOf(value); }
    public final List<Object> toList() { return Collections.unmodifiableList(new ArrayList<Object>(list)); }
    public final Object[] toArray() { return values.clone(); }

    @Override public final String toString() { return list.toString(); }
    @Override public final int hashCode() { return 31 + list.hashCode(); }

    @Override public final boolean equals(final Object other) {
        if (this == other) return true;
        if (other == null || getClass() != other.getClass()) return false;
        return list.equals(((Tuple) other).list);
    }

    @SuppressWarnings({"rawtypes", "unchecked"})
    public int compareTo(final Tuple other) {
        final int n = Math.min(values.length, other.values.length);
        for (int i = 0; i < n; i++) {
            final int c = ((Comparable) values[i]).compareTo(other.values[i]);
            if (c != 0) return c;
        }
        return Integer.compare(values.length, other.values.length);
    }
}
"""


def _tuple_class(n: int) -> str:
    """The Java source of the ``n``-value tuple (1 = Unit ... 10 = Decade)."""
    name, ts = NAMES[n - 1], list(TYPES[:n])
    gen = f"<{', '.join(ts)}>"
    vals = [f"value{i}" for i in range(n)]
    fields = [f"val{i}" for i in range(n)]
    xs = ", ".join(["X"] * n)

    def of(types, args):  # `new Name<types>(args)` of the tuple with len(types) values
        return f"new {NAMES[len(types) - 1]}<{', '.join(types)}>({', '.join(args)})"

    m = [f"    public static final int SIZE = {n};"]
    m += [f"    private final {t} {f};" for t, f in zip(ts, fields)]
    params = ", ".join(f"final {t} {v}" for t, v in zip(ts, vals))
    m.append(f"    public {name}({params}) {{\n        super({', '.join(vals)});\n"
             + "".join(f"        this.{f} = {v};\n" for f, v in zip(fields, vals)) + "    }")
    m.append(f"    public static {gen} {name}{gen} with({params}) {{ return {of(ts, vals)}; }}")
    from_list = ("        final List<X> l = take(iterable, index, SIZE, exact);\n"
                 f"        return {of(['X'] * n, [f'l.get({i})' for i in range(n)])};")
    m.append(f"    public static <X> {name}<{xs}> fromArray(final X[] array) {{\n"
             f"        if (array == null) throw new IllegalArgumentException(\"Array cannot be null\");\n"
             f"        return fromIterable(Arrays.asList(array), 0, true);\n    }}")
    m.append(f"    public static <X> {name}<{xs}> fromCollection(final Collection<X> collection) {{\n"
             f"        return fromIterable(collection, 0, true);\n    }}")
    m.append(f"    public static <X> {name}<{xs}> fromIterable(final Iterable<X> iterable) {{\n"
             f"        return fromIterable(iterable, 0, true);\n    }}")
    m.append(f"    public static <X> {name}<{xs}> fromIterable(final Iterable<X> iterable, final int index) {{\n"
             f"        return fromIterable(iterable, index, false);\n    }}")
    m.append(f"    private static <X> {name}<{xs}> fromIterable(final Iterable<X> iterable, final int index,\n"
             f"                                                 final boolean exact) {{\n{from_list}\n    }}")
    m.append("    @Override public int getSize() { return SIZE; }")
    for i, (t, f) in enumerate(zip(ts, fields)):
        m.append(f"    public {t} getValue{i}() {{ return {f}; }}")
    for i in range(n):
        types = ts[:i] + ["X"] + ts[i + 1:]
        args = fields[:i] + ["value"] + fields[i + 1:]
        m.append(f"    public <X> {name}<{', '.join(types)}> setAt{i}(final X value) {{ return {of(types, args)}; }}")
    if n < len(NAMES):
        for i in range(n + 1):
            types, args = ts[:i] + ["X"] + ts[i:], fields[:i] + ["value"] + fields[i:]
            m.append(f"    public <X> {NAMES[n]}<{', '.join(types)}> addAt{i}(final X value) "
                     f"{{ return {of(types, args)}; }}")
        m.append(f"    public <X> {NAMES[n]}<{', '.join(ts)}, X> add(final X value) {{ return addAt{n}(value); }}")
    if n > 1:
        for i in range(n):
            types, args = ts[:i] + ts[i + 1:], fields[:i] + fields[i + 1:]
            m.append(f"    public {NAMES[n - 2]}<{', '.join(types)}> removeFrom{i}() {{ return {of(types, args)}; }}")
    impl = ", ".join(f"IValue{i}<{t}>" for i, t in enumerate(ts))
    return (f"package org.javatuples;\n\nimport java.util.*;\n\npublic final class {name}{gen} extends Tuple "
            f"implements {impl} {{\n" + "\n".join(m) + "\n}\n")


def java_sources() -> dict[str, str]:
    """File name -> Java source of the ``org.javatuples`` package."""
    out = {"Tuple.java": _TUPLE}
    for i in range(len(NAMES)):
        out[f"IValue{i}.java"] = f"package org.javatuples;\n\npublic interface IValue{i}<X> {{ X getValue{i}(); }}\n"
        out[f"{NAMES[i]}.java"] = _tuple_class(i + 1)
    return out


@cache
def javatuples_dir(javac: str, javac_version: str) -> str | None:
    """A folder of compiled ``org/javatuples/*.class``, built on first use; None (logged) when javac fails."""
    from codeja.sandbox.runner import cache_root  # import cycle: runner -> languages -> javatuples

    sources = java_sources()
    h = hashlib.sha256(javac_version.encode())
    for name in sorted(sources):
        h.update(f"\0{name}\0{sources[name]}".encode())
    out = cache_root() / "javatuples" / h.hexdigest()[:16]
    with _lock:
        if (out / ".done").exists():
            return str(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".tmp-", dir=out.parent))
        try:
            src = work / "src"
            src.mkdir()
            for name, text in sources.items():
                (src / name).write_text(text, encoding="utf-8")
            r = subprocess.run([javac, "-encoding", "UTF-8", "-nowarn", "-d", str(work / "classes"),
                                *sorted(str(p) for p in src.iterdir())], capture_output=True, text=True, timeout=300)
            if r.returncode != 0:
                log.warning("codeja.sandbox: could not compile org.javatuples: %s", r.stderr[-2000:])
                return None
            (work / "classes" / ".done").write_text("ok")
            for root, _dirs, files in os.walk(work / "classes"):
                os.chmod(root, 0o755)  # read by the unprivileged sandbox uids
                for f in files:
                    os.chmod(os.path.join(root, f), 0o644)
            try:
                os.rename(work / "classes", out)
            except OSError:
                pass  # another process published the same build first
            return str(out) if (out / ".done").exists() else None
        except (OSError, subprocess.SubprocessError) as e:
            log.warning("codeja.sandbox: could not compile org.javatuples: %s", e)
            return None
        finally:
            shutil.rmtree(work, ignore_errors=True)

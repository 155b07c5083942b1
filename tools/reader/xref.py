"""xref.py: definitions (from Universal Ctags) and the resolution of a name
used in the code to the definition it means, for the annotated reader
(reader.py, `make reader`).

Definitions come only from ctags (`--output-format=json`): functions,
prototypes, macros, variables, extern declarations, typedefs, struct, union
and enum tags, enumerators and struct members; from the linker script, its
symbols. Locals and parameters are read too, only so that a local that
shares a name with a global is not taken for it.

Uses are the identifier tokens Pygments finds; one resolves to a definition
by these rules, in order:
  - after `.` or `->` it is a struct member: linked when every member of
    that name belongs to one struct (or one struct in the same file);
  - after `struct`, `union` or `enum` it is a tag;
  - after `.` or `->` following a variable, parameter or member whose type
    ctags knows (typeref "struct:vio_dev *"), the member of that struct;
  - a name the enclosing function declares as a local or parameter is the
    local one: it links to its declaration (and lists no uses);
  - otherwise an ordinary name: a static (file-scope) definition in the same
    file first, else the global definitions of the name. Among those, a
    definition in the same file, then one in the same program (the RISC-V
    kernel: kernel/, bench/; the Cortex-M3 port: cm3/; the portable folders
    belong to both), then, when several programs define it (vos_lock in
    kernel/glue and cm3/), the one declaration every program shares (the
    prototype in virtio/virtio_os.h), else the first definition.
Every definition of an entity (a name, with its file for static ones and
its struct for members) lists the uses of the entity.
"""
import json
import os
import subprocess

ORDINARY = {"function", "prototype", "macro", "variable", "externvar", "enumerator", "typedef", "symbol"}
DECLARATION = {"prototype", "externvar"}
TAG = {"struct", "union", "enum"}
MEMBER = {"member"}
LOCAL = {"local", "parameter"}

LD_BUILTINS = {"ORIGIN", "LENGTH", "ADDR", "SIZEOF", "ALIGN", "LOADADDR", "ABSOLUTE", "DEFINED"}


def program_of(path):
    """Which programs a file is built into."""
    top = path.split("/")[0]
    if top in ("kernel", "bench", "user"):
        return {"kernel"}
    if top == "cm3":
        return {"cm3"}
    return {"kernel", "cm3"}      # virtio/, net/, devmodel/: portable


class Def:
    def __init__(self, tag, index):
        self.name = tag["name"]
        self.kind = tag.get("kind", "")
        self.path = tag["path"]
        self.line = int(tag.get("line", 0))
        self.end = int(tag.get("end", self.line))
        self.scope = tag.get("scope", "")
        self.scope_kind = tag.get("scopeKind", "")
        self.file_scope = bool(tag.get("file")) or "fileScope" in tag.get("extras", "")
        self.signature = tag.get("signature", "")
        self.typeref = tag.get("typeref", "")
        self.index = index

    def cls(self):
        if self.kind in MEMBER:
            return "m"
        if self.kind in TAG:
            return "t"
        return "o"

    def entity(self):
        """The key under which uses are collected: the definitions that are
        one thing for a reader share it."""
        if self.kind in MEMBER:
            return ("m", self.name, self.scope)
        return (self.cls(), self.name, self.path if self.file_scope else "")

    def where(self):
        return "%s:%d" % (self.path, self.line)

    def html_id(self):
        return "def-%d-%s" % (self.line, self.name)


class Xref:
    def __init__(self, root, paths):
        self.root = root
        self.defs = []
        self.by_name = {}          # name -> [Def]
        self.by_entity = {}        # entity -> [Def]
        self.locals = {}           # (path, function) -> {name: Def}
        self.functions = {}        # path -> [(line, end, name)]
        self.uses = {}             # entity -> [(path, line, function or "")]
        self.def_at = {}           # (path, line, name) -> Def: where a definition stands
        self._run_ctags(paths)

    def _run_ctags(self, paths):
        try:
            version = subprocess.run(["ctags", "--version"], stdout=subprocess.PIPE, text=True).stdout
        except OSError:
            version = ""
        if "Universal Ctags" not in version:
            raise SystemExit("reader: needs Universal Ctags (Debian: universal-ctags; "
                             "sh scripts/setup.sh installs it); `ctags --version` says: %r"
                             % version.split("\n")[0])
        wanted = [p for p in paths if p.endswith((".c", ".h", ".ld"))]
        cmd = ["ctags", "--output-format=json", "--fields=+nKsSeEt", "--kinds-C=+plzx",
               "--langmap=C:+.h", "--langmap=LdScript:+.ld", "--sort=no", "-f", "-"] + wanted
        out = subprocess.run(cmd, cwd=self.root, check=True, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True).stdout
        for line in out.splitlines():
            tag = json.loads(line)
            if tag.get("_type") != "tag":
                continue
            kind = tag.get("kind", "")
            if tag["path"].endswith(".ld"):
                if kind != "symbol" or tag["name"] in LD_BUILTINS:
                    continue
            if kind in LOCAL:
                if tag.get("scopeKind") == "function":
                    names = self.locals.setdefault((tag["path"], tag.get("scope", "")), {})
                    names.setdefault(tag["name"], Def(tag, -1))
                continue
            if kind not in ORDINARY | TAG | MEMBER:
                continue
            if kind == "parameter":
                continue
            d = Def(tag, len(self.defs))
            self.defs.append(d)
            self.by_name.setdefault(d.name, []).append(d)
            self.by_entity.setdefault(d.entity(), []).append(d)
            self.def_at.setdefault((d.path, d.line, d.name), d)
            if d.kind == "function":
                self.functions.setdefault(d.path, []).append((d.line, d.end, d.name))
        for fl in self.functions.values():
            fl.sort()

    def function_at(self, path, line):
        for start, end, name in self.functions.get(path, ()):
            if start <= line <= end:
                return name
        return ""

    # ---- resolution ----
    def resolve(self, name, path, line, context, struct=None):
        """context: "member" after . or ->, "tag" after struct/union/enum,
        else "". struct: for a member, the struct the expression before the
        . or -> has (from ctags' typeref of that variable or member), if
        known. Returns a Def (a local's too) or None."""
        if context == "member":
            return self._member(name, path, self.by_name.get(name, ()), struct)
        if context == "tag":
            return self._pick([d for d in self.by_name.get(name, ()) if d.kind in TAG], name, path, "t")
        fn = self.function_at(path, line)
        if fn:
            local = self.locals.get((path, fn), {}).get(name)
            if local is not None:
                return local
        cands = self.by_name.get(name)
        if not cands:
            return None
        return self._pick([d for d in cands if d.kind in ORDINARY], name, path, "o")

    def struct_of(self, d, depth=0):
        """The struct or union a variable, parameter or member of type
        `struct X`, `struct X *`, `struct X[]` or a typedef of one refers to."""
        t = d.typeref if d is not None else ""
        if t.startswith(("struct:", "union:")):
            return t.split(":", 1)[1].split()[0].rstrip("*[")
        if t.startswith("typename:") and depth < 3:
            name = t.split(":", 1)[1].replace("const ", "").split()[0].rstrip("*")
            for td in self.by_name.get(name, ()):
                if td.kind == "typedef":
                    return self.struct_of(td, depth + 1)
        return None

    def _member(self, name, path, cands, struct=None):
        members = [d for d in cands if d.kind in MEMBER]
        if struct:
            typed = [d for d in members if d.scope == struct]
            if typed:
                here = [d for d in typed if d.path == path]
                return (here or typed)[0]
        scopes = {d.scope for d in members}
        if len(scopes) == 1:
            here = [d for d in members if d.path == path]
            return (here or members)[0]
        here = [d for d in members if d.path == path]
        if len({d.scope for d in here}) == 1:
            return here[0]
        return None      # several structs have a member of this name: no guess

    def _pick(self, cands, name, path, cls):
        if not cands:
            return None
        local = self.by_entity.get((cls, name, path))
        if local:
            ent = local
        else:
            ent = [d for d in self.by_entity.get((cls, name, ""), ())]
            if not ent:
                return None
        return self.target(ent, path)

    def target(self, ent, path):
        """The definition a use in `path` should land on, among one entity's."""
        real = [d for d in ent if d.kind not in DECLARATION]
        decl = [d for d in ent if d.kind in DECLARATION]
        for group in (real, decl):
            same = [d for d in group if d.path == path]
            if same:
                return same[0]
        mine = program_of(path)
        fit = [d for d in real if program_of(d.path) & mine]
        if len(fit) == 1:
            return fit[0]
        if len(fit) > 1:
            shared = [d for d in decl if d.path.endswith(".h")]
            if len(shared) == 1:
                return shared[0]
            return fit[0]
        return (real or decl)[0]

    def add_use(self, d, path, line):
        self.uses.setdefault(d.entity(), []).append((path, line, self.function_at(path, line)))

    def uses_of(self, d):
        return self.uses.get(d.entity(), [])

    def others(self, d):
        """The entity's other definitions and declarations."""
        return [o for o in self.by_entity.get(d.entity(), ()) if o is not d]

    def global_named(self, name, path):
        """For a name mentioned in a comment: the ordinary definition it
        would mean at file level in `path`, or None."""
        cands = self.by_name.get(name)
        if not cands:
            return None
        return self._pick([d for d in cands if d.kind in ORDINARY], name, path, "o") or \
            self._pick([d for d in cands if d.kind in TAG], name, path, "t")

"""The `Example:` sections of albert_tf's and data_prep's docstrings, run or checked against code.

Every docstring (module, class, function, method) of every public module is scanned. A section
written as a `>>>` session runs under doctest, on tiny configs and temporary directories. The other
sections stand for work that needs real files or long runs; they are parsed instead. Each must be
valid Python; every capitalised name it uses (a class or constant) must exist in the module, in the
example's own imports, or be `albert_tf`/`data_prep`/`tf`/`np`/a builtin; a lower-case free name
(`model`, `ids`) stands for the reader's own object, unless it is one of our functions, which the
example must then import; every attribute of a real module or class must exist; and every call of
one of our callables must bind to its signature (argument count and keyword names).

Entry-point modules define absl flags when imported and two of them cannot share a process, so they
are parsed but not imported: their examples (none today) are only checked for syntax.
"""

import ast
import builtins
from collections.abc import Iterator
import dataclasses
import doctest
import importlib
import inspect
import pathlib
import tempfile
import textwrap
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("albert_tf", "data_prep")
HEADERS = ("Example:", "Examples:")
# Names an example may use without importing them, as a reader would have them.
READER_NAMES = {
    "albert_tf": "albert_tf",
    "data_prep": "data_prep",
    "tf": "tensorflow",
    "np": "numpy",
    "tf_keras": "tf_keras"
}
DOCTEST_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@dataclasses.dataclass(frozen=True)
class Section:
  """One `Example:` section: where it is and its dedented text."""
  module: str
  owner: str  # the qualified name of the documented object, "" for the module
  line: int  # of the docstring in the module's file
  text: str

  @property
  def where(self) -> str:
    return f"{self.module}:{self.line} ({self.owner or 'module docstring'})"


def public_modules() -> list[tuple[str, pathlib.Path]]:
  """(module name, file) of every public module of PACKAGES."""
  modules = []
  for package in PACKAGES:
    for path in sorted((ROOT / package).rglob("*.py")):
      parts = path.relative_to(ROOT).with_suffix("").parts
      if any(part.startswith("_") and part != "__init__" for part in parts):
        continue
      name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
      modules.append((name, path))
  return modules


def _documented(tree: ast.Module) -> Iterator[tuple[str, ast.AST]]:
  """(qualified name, node) of the module and every class and function in it."""
  yield "", tree

  def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, ast.AST]]:
    for child in ast.iter_child_nodes(node):
      if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        name = f"{prefix}{child.name}"
        yield name, child
        yield from walk(child, name + ".")

  yield from walk(tree, "")


def _sections(docstring: str) -> Iterator[str]:
  """The dedented bodies of a docstring's Example sections (empty when nothing is indented)."""
  lines = docstring.splitlines()
  for index, line in enumerate(lines):
    if line.strip() not in HEADERS:
      continue
    indent = len(line) - len(line.lstrip())
    body = []
    for following in lines[index + 1:]:
      if following.strip() and len(following) - len(following.lstrip()) <= indent:
        break
      body.append(following)
    yield textwrap.dedent("\n".join(body)).strip("\n")


def _is_entry_point(tree: ast.Module) -> bool:
  """Whether the module defines absl flags when imported."""
  return any(
      isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and
      isinstance(node.value.func, ast.Attribute) and node.value.func.attr.startswith("DEFINE")
      for node in tree.body)


def collect() -> tuple[list[Section], set[str], set[str]]:
  """Every Example section of the public modules, the entry-point modules among them, and the
  names of the public modules' top-level functions."""
  sections, entry_points, functions = [], set(), set()
  for module, path in public_modules():
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if _is_entry_point(tree):
      entry_points.add(module)
    functions.update(node.name
                     for node in tree.body
                     if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"))
    for owner, node in _documented(tree):
      docstring = ast.get_docstring(node, clean=True)
      if docstring:
        line = node.body[0].lineno if node.body else 1
        sections.extend(Section(module, owner, line, text) for text in _sections(docstring))
  return sections, entry_points, functions


SECTIONS, ENTRY_POINTS, DEFINED_FUNCTIONS = collect()
DOCTEST_MODULES = sorted({s.module for s in SECTIONS if ">>>" in s.text} - ENTRY_POINTS)
ILLUSTRATIONS = [s for s in SECTIONS if ">>>" not in s.text]


def test_examples_are_collected_and_indented():
  assert len(DOCTEST_MODULES) >= 10 and len(ILLUSTRATIONS) >= 10  # the scan finds them
  empty = [s.where for s in SECTIONS if not s.text]
  assert not empty, f"Example: sections with nothing indented under them: {empty}"
  mixed = [s.where for s in SECTIONS if ">>>" in s.text and not s.text.lstrip().startswith(">>>")]
  assert not mixed, f"write these Example: sections wholly as >>> sessions: {mixed}"


@pytest.mark.parametrize("module_name", DOCTEST_MODULES)
def test_doctests_pass(module_name, tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)  # an example that writes relative paths writes here
  monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # and tempfile.mkdtemp() too
  module = importlib.import_module(module_name)
  finder = doctest.DocTestFinder(exclude_empty=True)
  runner = doctest.DocTestRunner(optionflags=DOCTEST_FLAGS)
  report = []
  tests = [t for t in finder.find(module, module_name) if t.examples]
  assert tests, f"{module_name} has >>> examples but doctest found none"
  for test in tests:
    runner.run(test, out=report.append)
  assert runner.failures == 0, "".join(report)


@dataclasses.dataclass(frozen=True)
class _Instance:
  """An example's variable known to hold an instance of `cls` (`x = Class(...)`)."""
  cls: type


@dataclasses.dataclass(frozen=True)
class _Method:
  """`instance.name` where the instance is an _Instance of `cls`."""
  cls: type
  name: str


_UNKNOWN = object()  # a placeholder the example does not define (ids, config, ...)


class _ExampleChecker:
  """Resolves the names and calls of one illustrative example against a module."""

  def __init__(self, module: Any):
    self.namespace = dict(vars(module))
    self.bound: dict[str, Any] = {}  # names the example binds: value, _Instance or _UNKNOWN
    self.problems: list[str] = []

  def name(self, node: ast.Name, called: bool) -> Any:
    if node.id in self.bound:
      return self.bound[node.id]
    if node.id in self.namespace:
      return self.namespace[node.id]
    if node.id in READER_NAMES:
      return importlib.import_module(READER_NAMES[node.id])
    if hasattr(builtins, node.id):
      return getattr(builtins, node.id)
    if node.id[:1].isupper():  # a class or constant; lower-case names are the reader's objects
      self.problems.append(f"line {node.lineno}: {node.id} is not defined here: import it in "
                           "the example or name one that exists")
    elif called and node.id in DEFINED_FUNCTIONS:
      self.problems.append(f"line {node.lineno}: calls {node.id} without importing it")
    return _UNKNOWN

  def value(self, node: ast.AST, called: bool = False) -> Any:
    """The object an expression names (_Instance, _Method for what the example built), else
    _UNKNOWN."""
    if isinstance(node, ast.Name):
      return self.name(node, called)
    if isinstance(node, ast.Attribute):
      base = self.value(node.value)
      if base is _UNKNOWN:
        return _UNKNOWN
      owner = base.cls if isinstance(base, _Instance) else base
      if isinstance(base, _Instance) and not called:
        return _UNKNOWN  # instance attributes set in __init__ are not on the class
      if inspect.ismodule(owner) and not hasattr(owner, node.attr):
        try:
          importlib.import_module(f"{owner.__name__}.{node.attr}")  # a submodule
        except ImportError:
          pass
      if not hasattr(owner, node.attr):
        self.problems.append(f"line {node.lineno}: {ast.unparse(node)}: "
                             f"{getattr(owner, '__name__', owner)!s} has no {node.attr}")
        return _UNKNOWN
      attribute = getattr(owner, node.attr)
      return _Method(base.cls, node.attr) if isinstance(base, _Instance) else attribute
    if isinstance(node, ast.Call):
      return self.call(node)
    return _UNKNOWN

  def call(self, node: ast.Call) -> Any:
    callee = self.value(node.func, called=True)
    for argument in node.args + [keyword.value for keyword in node.keywords]:
      self.expression(argument)
    drop_self = False
    if isinstance(callee, _Method):
      drop_self = not isinstance(inspect.getattr_static(callee.cls, callee.name),
                                 (staticmethod, classmethod))
      callee = getattr(callee.cls, callee.name)
    if callee is _UNKNOWN or isinstance(callee, _Instance) or not callable(callee):
      return _UNKNOWN
    if getattr(callee, "__module__", "").split(".")[0] not in PACKAGES:
      return _UNKNOWN  # not ours: TensorFlow's own signatures are not this test's business
    self.check_binding(node, callee, drop_self)
    return _Instance(callee) if inspect.isclass(callee) else _UNKNOWN

  def check_binding(self, node: ast.Call, callee: Any, drop_self: bool) -> None:
    try:
      signature = inspect.signature(callee)
    except (TypeError, ValueError):
      return
    if drop_self:
      signature = signature.replace(parameters=list(signature.parameters.values())[1:])
    if any(isinstance(arg, ast.Starred) for arg in node.args) or any(
        keyword.arg is None for keyword in node.keywords):
      return
    try:
      signature.bind(*node.args, **{keyword.arg: keyword.value for keyword in node.keywords})
    except TypeError as error:
      self.problems.append(f"line {node.lineno}: {ast.unparse(node)}: {error}")

  def bind_targets(self, target: ast.AST, value: Any) -> None:
    if isinstance(target, ast.Name):
      self.bound[target.id] = value
    elif isinstance(target, (ast.Tuple, ast.List)):
      for element in target.elts:
        self.bind_targets(element, _UNKNOWN)

  def check(self, tree: ast.Module) -> list[str]:
    for statement in tree.body:
      self.statement(statement)
    return self.problems

  def statement(self, statement: ast.stmt) -> None:
    """Resolves the statement's calls in order, binding the names it defines."""
    if isinstance(statement, ast.Import):
      for alias in statement.names:
        module = importlib.import_module(alias.name)
        top = importlib.import_module(alias.name.split(".")[0])
        self.bound[alias.asname or alias.name.split(".")[0]] = module if alias.asname else top
    elif isinstance(statement, ast.ImportFrom):
      module = importlib.import_module(statement.module)
      for alias in statement.names:
        if not hasattr(module, alias.name):
          importlib.import_module(f"{statement.module}.{alias.name}")
        self.bound[alias.asname or alias.name] = getattr(module, alias.name)
    elif isinstance(statement, ast.Assign):
      value = self.expression(statement.value)
      for target in statement.targets:
        self.bind_targets(target, value)
    else:
      for child in ast.iter_child_nodes(statement):
        if isinstance(child, ast.withitem):
          self.expression(child.context_expr)
          if child.optional_vars is not None:
            self.bind_targets(child.optional_vars, _UNKNOWN)
        elif isinstance(child, ast.expr) and child is getattr(statement, "target", None):
          self.bind_targets(child, _UNKNOWN)  # a for loop's variables
        elif isinstance(child, ast.expr):
          self.expression(child)
        elif isinstance(child, ast.stmt):
          self.statement(child)

  def expression(self, node: ast.expr) -> Any:
    """Resolves every name, attribute and call in an expression; returns its value if known."""
    if isinstance(node, (ast.Name, ast.Attribute, ast.Call)):
      return self.value(node)
    children = list(ast.iter_child_nodes(node))
    for generator in (child for child in children if isinstance(child, ast.comprehension)):
      self.expression(generator.iter)
      self.bind_targets(generator.target, _UNKNOWN)
    for child in children:
      if isinstance(child, ast.expr):
        self.expression(child)
    return _UNKNOWN


@pytest.mark.parametrize("section", ILLUSTRATIONS, ids=lambda s: s.where)
def test_illustrative_example_matches_the_code(section):
  try:
    tree = ast.parse(section.text)
  except SyntaxError as error:
    pytest.fail(f"{section.where}: the example is not valid Python ({error.msg}, example line "
                f"{error.lineno}): write it as code, with `...` for what is left out")
  if section.module in ENTRY_POINTS:
    return
  problems = _ExampleChecker(importlib.import_module(section.module)).check(tree)
  assert not problems, f"{section.where}: " + "; ".join(problems)


def test_checker_reports_what_would_raise():
  trainer = importlib.import_module("albert_tf.training.trainer")
  example = textwrap.dedent("""\
      PretrainingTrainer(strategy, task, model, optimizer)
      Trainer(strategy, task, model, optimizer)
      Trainer(strategy, task, model, optimizer, global_batch_size=8, steps=2)
      albert_tf.training.trainer.unique_variable(model.variables)
      loop = Trainer(strategy, task, model, optimizer, global_batch_size=8)
      loop.fit(iterator)
      loop.train(iterator, 2, 3)
      unique_variables(model.variables)
      create_optimizer(1e-4, 10, 1)
      """)
  assert _ExampleChecker(trainer).check(ast.parse(example)) == [
      ("line 1: PretrainingTrainer is not defined here: import it in the example or name one "
       "that exists"),
      ("line 2: Trainer(strategy, task, model, optimizer): missing a required argument: "
       "'global_batch_size'"),
      ("line 3: Trainer(strategy, task, model, optimizer, global_batch_size=8, steps=2): got an "
       "unexpected keyword argument 'steps'"),
      ("line 4: albert_tf.training.trainer.unique_variable: albert_tf.training.trainer has no "
       "unique_variable"),
      "line 6: loop.fit: Trainer has no fit",
      "line 7: loop.train(iterator, 2, 3): too many positional arguments",
      "line 9: calls create_optimizer without importing it",
  ]

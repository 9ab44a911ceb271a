"""The generated per-operation surface against the spec and the stubs, without a network:
every operation of spec/*.json is reachable on the sync and async clients under its tag and a
name derived from its operationId; the arguments are keyword-only, named and required as the spec
says; a misspelt keyword is Python's own TypeError; the .pyi stubs parse and agree with the
runtime (checked with ast, so mypy is not needed)."""

from __future__ import annotations

import ast
import builtins
import inspect
import re
from pathlib import Path
from typing import Dict, Set, Tuple

import pytest

import weixin_kit
from weixin_kit import (
    AsyncComponentClient,
    AsyncMiniProgramClient,
    AsyncPayClient,
    ComponentClient,
    MiniProgramClient,
    PayClient,
    _native,
    errors,
)
from weixin_kit._generated import component as gen_component
from weixin_kit._generated import mp as gen_mp
from weixin_kit._generated import pay as gen_pay

from support import spec, vectors

PACKAGE = Path(weixin_kit.__file__).parent
KEYS = vectors("keys.json")
NOWHERE = "http://127.0.0.1:9"  # never contacted: nothing here sends a request

FAMILIES = {
    "pay": ("wechatpay.json", gen_pay, PACKAGE / "_generated" / "pay.pyi"),
    "mp": ("miniprogram.json", gen_mp, PACKAGE / "_generated" / "mp.pyi"),
    "component": ("miniprogram.json", gen_component, PACKAGE / "_generated" / "component.pyi"),
}
# The client classes of each family, and the ones whose operations the stubs' root class types.
CLIENTS = {
    "pay": (PayClient, AsyncPayClient, "PayOperations"),
    "mp": (MiniProgramClient, AsyncMiniProgramClient, "MiniProgramOperations"),
    "component": (ComponentClient, AsyncComponentClient, "ThirdPartyPlatformOperations"),
}
# Constructor arguments that are callbacks, not configuration keys.
CALLBACKS = {
    "pay": {"signer"},
    "mp": {"token_provider", "card_token_provider"},
    "component": set(),
}


def make_clients(family: str):
    if family == "pay":
        kwargs = dict(
            mchid=KEYS["mchid"],
            serial_no=KEYS["merchant_serial_no"],
            private_key=KEYS["merchant"]["private_key_pkcs8_pem"],
            wechatpay_public_key_id=KEYS["public_key_id"],
            wechatpay_public_key=KEYS["platform"]["public_key_spki_pem"],
            base_url=NOWHERE,
        )
        return PayClient(**kwargs), AsyncPayClient(**kwargs)
    if family == "component":
        kwargs = dict(
            component_appid="wx0123456789abcdef", component_appsecret="s3cr3t", base_url=NOWHERE
        )
        return ComponentClient(**kwargs), AsyncComponentClient(**kwargs)
    kwargs = dict(appid="wx0123456789abcdef", secret="s3cr3t", base_url=NOWHERE)
    return MiniProgramClient(**kwargs), AsyncMiniProgramClient(**kwargs)


def snake_case(operation_id: str) -> str:
    """modify_stock_info from ModifyStockInfo, set_user_notify_ext from setUserNotifyExt."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", operation_id).lower()


def _schema(doc, ref: str):
    return doc["components"]["schemas"][ref.rsplit("/", 1)[1]]


def spec_operations(family: str) -> Dict[str, Tuple[str, Set[str], Set[str]]]:
    """operationId -> (tag, required argument names, optional argument names), from the spec.

    A tag with `x-weixin-client` (the third-party platform's `component`) gives its operations
    to that client, not to the document's own (spec/README.md)."""
    doc = spec(FAMILIES[family][0])
    other_client = {
        t["name"] for t in doc.get("tags", []) if t.get("x-weixin-client", family) != family
    }
    if family in {t.get("x-weixin-client") for t in doc.get("tags", [])}:
        other_client |= {t["name"] for t in doc.get("tags", []) if "x-weixin-client" not in t}
    out = {}
    for item in doc["paths"].values():
        for op in item.values():
            if not isinstance(op, dict) or "operationId" not in op:
                continue
            (tag,) = op["tags"]
            if tag in other_client:
                continue
            required, optional = set(), set()
            for p in op.get("parameters", []) + item.get("parameters", []):
                (required if p.get("required") else optional).add(p["name"])
            content = op.get("requestBody", {}).get("content", {})
            if op.get("x-weixin-request-kind") == "media-upload":
                # meta {filename, sha256} + file: the client computes sha256 from the file.
                schema = _schema(doc, content["multipart/form-data"]["schema"]["$ref"])
                meta = _schema(doc, schema["properties"]["meta"]["$ref"])
                required |= (set(meta["required"]) - {"sha256"}) | {"file"}
            elif "application/json" in content:
                schema = _schema(doc, content["application/json"]["schema"]["$ref"])
                for name in schema["properties"]:
                    (required if name in schema.get("required", []) else optional).add(name)
            out[op["operationId"]] = (tag, required, optional)
    for name, op in doc.get("x-weixin-local-operations", {}).items():
        if op["tag"] in other_client:
            continue
        required = {p["name"] for p in op["parameters"] if p.get("required")}
        optional = {p["name"] for p in op["parameters"] if not p.get("required")}
        out[name] = (op["tag"], required, optional)
    return out


CASES = [(family, op) for family in FAMILIES for op in sorted(spec_operations(family))]


def test_operations_table_is_the_specs():
    for family, (_, module, _) in FAMILIES.items():
        expected = {
            op: (tag, snake_case(op)) for op, (tag, _, _) in spec_operations(family).items()
        }
        assert module.OPERATIONS == expected


@pytest.mark.parametrize("family, operation", CASES)
def test_every_operation_is_reachable_and_takes_the_specs_arguments(family, operation):
    tag, required, optional = spec_operations(family)[operation]
    group, method_name = getattr(FAMILIES[family][1], "OPERATIONS")[operation]
    assert (group, method_name) == (tag, snake_case(operation))
    for client in make_clients(family):
        method = getattr(getattr(client, group), method_name)
        params = inspect.signature(method).parameters.values()
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params), method_name
        assert {p.name for p in params if p.default is inspect.Parameter.empty} == required
        assert {p.name for p in params if p.default is not inspect.Parameter.empty} == optional
        assert all(p.default is None for p in params if p.default is not inspect.Parameter.empty)


@pytest.mark.parametrize("family, operation", CASES)
def test_misspelt_or_positional_arguments_are_pythons_type_error(family, operation):
    _, required, _ = spec_operations(family)[operation]
    group, method_name = FAMILIES[family][1].OPERATIONS[operation]
    for client in make_clients(family):
        method = getattr(getattr(client, group), method_name)
        args = {name: "x" for name in required}
        with pytest.raises(TypeError) as info:
            method(**args, misspelt_argument="x")
        assert "misspelt_argument" in str(info.value)
        assert not isinstance(info.value, weixin_kit.WeixinKitError)
        if required:
            with pytest.raises(TypeError):
                method(*args.values())
            missing = dict(args)
            missing.pop(sorted(required)[0])
            with pytest.raises(TypeError):
                method(**missing)


def test_async_methods_return_awaitables_that_send_nothing_until_awaited():
    for family in FAMILIES:
        _, client = make_clients(family)
        for operation, (group, method_name) in FAMILIES[family][1].OPERATIONS.items():
            _, required, _ = spec_operations(family)[operation]
            pending = getattr(getattr(client, group), method_name)(**{n: "x" for n in required})
            assert inspect.iscoroutine(pending), operation
            pending.close()  # never awaited: nothing was sent (the base URL is not listening)
        actions = {
            "pay": ("parse_notification", "request"),
            "mp": ("access_token",),
            "component": (
                "parse_push",
                "component_access_token",
                "authorize",
                "authorizer_access_token",
                "forget_authorizer",
            ),
        }[family]
        for name in actions:
            assert inspect.iscoroutinefunction(getattr(type(client), name)), name


# -- the stubs ---------------------------------------------------------------------------------


def _stub(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _classes(tree: ast.Module) -> Dict[str, ast.ClassDef]:
    return {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}


def _methods(cls: ast.ClassDef):
    return {
        n.name: n
        for n in cls.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and not n.name.startswith("_")
    }


@pytest.mark.parametrize("family", FAMILIES)
def test_stubs_parse_and_match_the_runtime(family):
    _, module, stub_path = FAMILIES[family]
    tree = _stub(stub_path)
    classes = _classes(tree)
    sync_client, async_client = make_clients(family)
    groups = {}
    for operation, (group, method_name) in module.OPERATIONS.items():
        groups.setdefault(group, set()).add(method_name)
    for group, names in groups.items():
        class_name = "".join(part.title() for part in group.split("_")) + "Operations"
        for prefix, client, is_async in (("", sync_client, False), ("Async", async_client, True)):
            cls = classes[prefix + class_name]
            methods = _methods(cls)
            assert set(methods) == names, cls.name
            for name, node in methods.items():
                assert isinstance(node, ast.AsyncFunctionDef) is is_async, (cls.name, name)
                a = node.args
                assert (
                    [x.arg for x in a.args] == ["self"] and not a.posonlyargs and a.vararg is None
                )
                stub_required = {x.arg for x, d in zip(a.kwonlyargs, a.kw_defaults) if d is None}
                stub_all = {x.arg for x in a.kwonlyargs}
                runtime = inspect.signature(
                    getattr(getattr(client, group), name)
                ).parameters.values()
                assert stub_required == {
                    p.name for p in runtime if p.default is inspect.Parameter.empty
                }
                assert stub_all == {p.name for p in runtime}
                assert node.returns is not None, (cls.name, name)
    # The groups the clients expose are typed with the right (sync/async) classes.
    for prefix in ("", "Async"):
        root = classes[prefix + CLIENTS[family][2]]
        props = _methods(root)
        assert set(props) == set(groups)
        for group, node in props.items():
            expected = prefix + "".join(p.title() for p in group.split("_")) + "Operations"
            assert ast.unparse(node.returns).strip("'\"") == expected


@pytest.mark.parametrize("family", FAMILIES)
def test_stub_annotations_name_only_defined_types(family):
    tree = _stub(FAMILIES[family][2])
    defined = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    defined |= {
        t.id
        for n in tree.body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    defined |= {
        n.target.id
        for n in tree.body
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
    }
    for n in tree.body:
        if isinstance(n, ast.ImportFrom):
            defined |= {alias.asname or alias.name for alias in n.names}
    known = defined | set(dir(builtins))
    for node in ast.walk(tree):
        annotations = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            annotations += [
                a.annotation for a in node.args.args + node.args.kwonlyargs if a.annotation
            ]
            annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        for annotation in filter(None, annotations):
            if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
                annotation = ast.parse(annotation.value, mode="eval").body  # forward reference
            for name in ast.walk(annotation):
                if isinstance(name, ast.Name):
                    assert name.id in known, (family, name.id)


@pytest.mark.parametrize("family", FAMILIES)
def test_constructors_take_exactly_the_cores_configuration_keys(family):
    """The generated constructors against the core itself: its error for an unknown key lists
    the keys it accepts."""
    with pytest.raises(errors.ConfigError) as info:
        _native.ClientCore(family, {"zz_not_a_key": 1})
    listed = re.search(r"\(keys: ([a-z0-9_, ]+)\)", str(info.value))
    assert listed, str(info.value)
    core_keys = set(listed.group(1).split(", "))
    for cls in CLIENTS[family][:2]:
        params = inspect.signature(cls.__init__).parameters.values()
        keywords = {p.name for p in params if p.name != "self"}
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params if p.name != "self")
        assert keywords - CALLBACKS[family] == core_keys, cls.__name__


def test_native_stub_matches_the_native_module():
    tree = _stub(PACKAGE / "_native.pyi")
    (all_node,) = [
        n
        for n in tree.body
        if isinstance(n, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets)
    ]
    stub_all = ast.literal_eval(all_node.value)
    for name in stub_all:
        assert hasattr(_native, name), name
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        runtime = getattr(_native, cls.name)
        for node in cls.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("__"):
                assert hasattr(runtime, node.name), (cls.name, node.name)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            assert callable(getattr(_native, node.name)), node.name


def test_error_classes():
    names = errors.__all__
    assert set(names) <= set(weixin_kit.__all__)
    for name in names:
        cls = getattr(errors, name)
        assert getattr(weixin_kit, name) is cls
        assert issubclass(cls, errors.WeixinKitError) and issubclass(cls, Exception)
    assert issubclass(errors.ValidationError, ValueError)
    assert issubclass(errors.ConfigError, ValueError)
    assert issubclass(errors.TransportError, ConnectionError)
    assert issubclass(errors.TimeoutError, builtins.TimeoutError)
    assert errors.TimeoutError is not builtins.TimeoutError
    assert set(names) == {
        "WeixinKitError",
        "ApiError",
        "MiniProgramError",
        "SignatureError",
        "ValidationError",
        "TransportError",
        "TimeoutError",
        "ConfigError",
        "UnexpectedResponseError",
        "CallbackError",
        "ReplayError",
        "NotAuthorizedError",
    }


def test_crypto_module_surface():
    assert set(weixin_kit.crypto.__all__) == {
        "build_authorization",
        "verify_signature",
        "decrypt_resource",
        "sign_card_ext",
    }
    for name in weixin_kit.crypto.__all__:
        assert callable(getattr(weixin_kit.crypto, name))


def test_py_typed_marker_is_shipped():
    assert (PACKAGE / "py.typed").exists()

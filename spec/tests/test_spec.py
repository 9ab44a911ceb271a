"""Checks spec/*.json (OpenAPI 3.1) against spec/README.md and the API documents.

The documents in spec/sources/ are parsed here; expected values come from them, not from the
spec. Run from the repository root: python -m pytest -q spec/tests

WEIXIN_KIT_SPEC_DIR overrides the spec folder (default: this repository's spec/), e.g. to run the
checks on an edited copy. The API documents are always read from this repository's
spec/sources/: the tests read nothing outside the repository.
"""

import json
import os
import re
import unicodedata
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO = Path(__file__).resolve().parents[2]
SPEC_DIR = Path(os.environ.get("WEIXIN_KIT_SPEC_DIR") or REPO / "spec")
DOCS_DIR = REPO / "spec" / "sources"
SPEC_FILES = ("wechatpay.json", "miniprogram.json")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


# ---------------------------------------------------------------------------------------------
# Loading


def load_spec(name):
    return json.loads((SPEC_DIR / name).read_text(encoding="utf-8"))


def read_doc(name):
    path = DOCS_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"API document {path} not found (the repository carries them in "
                                "spec/sources/)")
    return path.read_text(encoding="utf-8")


PAY = load_spec("wechatpay.json")
MP = load_spec("miniprogram.json")
SPECS = {"wechatpay.json": PAY, "miniprogram.json": MP}
DOC01 = read_doc("01-setUserNotifyExt.md")
DOC02 = read_doc("02-busifavor-set-callbacks.md")
DOC03 = read_doc("03-wx-addCard-openCard.md")
DOC04 = read_doc("04-busifavor-modify-stock.md")


# ---------------------------------------------------------------------------------------------
# Document parsing helpers


def section(text, start, end=None):
    """The text after the first `start` up to the next `end` (or the end of the text)."""
    assert start in text, f"document has no {start!r}"
    text = text[text.index(start) + len(start):]
    return text[: text.index(end)] if end and end in text else text


def pipe_tables(text, header):
    """Every table whose header row has exactly the cells `header` (markdown `| a | b |` or the
    flattened `a | b |`), as lists of {header: cell} dicts."""
    tables, rows = [], None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if "|" in line else None
        if cells == header:
            rows = []
            tables.append(rows)
        elif rows is not None and cells is not None and len(cells) == len(header):
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):  # skip the |---| separator
                rows.append(dict(zip(header, cells)))
        else:
            rows = None
    return tables


def pipe_table(text, header):
    tables = pipe_tables(text, header)
    assert len(tables) == 1, f"expected one table {header}, found {len(tables)}"
    return tables[0]


def json_after(text, marker):
    """The first JSON value that starts after `marker`."""
    start = text.index("{", text.index(marker))
    return json.JSONDecoder().raw_decode(text[start:])[0]


def norm(text):
    """Fold full-width punctuation to ASCII (NFKC) and ignore whitespace except between two ASCII
    word characters, so `OpenID ，请` == `OpenID,请` but `invalid openid` != `invalidopenid`."""
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text or "")).strip()
    return re.sub(r"(?<=[^\w ]) | (?=[^\w ])|(?<=[^\x00-\x7f]) | (?=[^\x00-\x7f])", "", text)


DOC_TYPES = {"string": "string", "number": "integer", "integer": "integer",
             "boolean": "boolean", "object": "object", "array": "array"}


def doc_type(text):
    return DOC_TYPES[text.strip().lower()]


def is_yes(cell):  # 必填 cells are 是/否, sometimes followed by "(body)"
    return cell.strip().startswith(("是", "必填"))


# ---------------------------------------------------------------------------------------------
# Spec helpers


def resolve(spec, node):
    """Follow `$ref` (local JSON pointers) until a non-ref node."""
    while isinstance(node, dict) and "$ref" in node:
        node = pointer(spec, node["$ref"])
    return node


def pointer(spec, ref):
    assert isinstance(ref, str) and ref.startswith("#/"), f"$ref {ref!r} is not a local pointer"
    node = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"$ref {ref!r} does not resolve"
        node = node[part]
    return node


def schema(spec, name):
    schemas = spec["components"]["schemas"]
    assert name in schemas, f"schema {name} missing from components.schemas"
    return schemas[name]


def operation(spec, op_id):
    for path, method, op in operations(spec):
        if op.get("operationId") == op_id:
            return op
    raise AssertionError(f"operation {op_id} not in spec")


def operations(spec, section_name="paths"):
    for path, item in spec.get(section_name, {}).items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method, item[method]


def body_schema_name(op):
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[-1]


def response_schema_name(op, status):
    ref = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[-1]


def schema_errors(spec, schema_name, instance):
    """JSON Schema 2020-12 validation of `instance` against a component schema; `$ref`s resolve
    inside the same spec document."""
    uri = "urn:weixin-kit:spec"
    resource = Resource.from_contents(spec, default_specification=DRAFT202012)
    registry = Registry().with_resource(uri, resource)
    validator = Draft202012Validator({"$ref": f"{uri}#/components/schemas/{schema_name}"},
                                     registry=registry)
    return sorted(f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
                  for e in validator.iter_errors(instance))


def check_property(spec, parent, name, *, required, type_, where):
    """Assert `parent` (an object schema) has property `name` with the required flag and type."""
    props = parent.get("properties", {})
    assert name in props, f"{where}: property {name} missing (spec has {sorted(props)})"
    in_required = name in parent.get("required", [])
    assert in_required == required, (
        f"{where}: {name} is {'required' if required else 'optional'} in the document, "
        f"but the spec has it {'in' if in_required else 'not in'} `required`")
    prop = resolve(spec, props[name])
    if type_ is not None:
        # A deliberate departure from the document's table names the document's type and says
        # why, with sources (x-weixin-doc-type + x-weixin-deviation; spec/README.md).
        documented = prop.get("x-weixin-doc-type", prop.get("type"))
        assert documented == type_, (
            f"{where}: {name} has type {type_} in the document, spec says {documented!r}")
        if "x-weixin-doc-type" in prop:
            assert prop.get("x-weixin-deviation", "").strip(), (
                f"{where}: {name} departs from the document's type without x-weixin-deviation")
    return prop


def pay_error_found(errors, status, code, description, solution):
    return any(e.get("status") == status and e.get("code") == code
               and norm(e.get("description")) == norm(description)
               and norm(e.get("solution")) == norm(solution) for e in errors)


def check_pay_error_row(op, row):
    """A pay error-table row is in x-weixin-errors, as one entry or split at " / " into one entry
    per (description, solution) pair."""
    errors = op.get("x-weixin-errors", [])
    status, code = int(row["状态码"]), row["错误码"]
    desc, sol = row["描述"], row["解决方案"]
    if pay_error_found(errors, status, code, desc, sol):
        return
    same_code = [e for e in errors if e.get("code") == code]
    descs, sols = desc.split(" / "), sol.split(" / ")
    assert len(descs) > 1 and len(descs) == len(sols), (
        f"{op['operationId']}: error {status} {code} {desc!r} / {sol!r} missing from "
        f"x-weixin-errors; entries with code {code}: {same_code}")
    for d, s in zip(descs, sols):
        assert pay_error_found(errors, status, code, d, s), (
            f"{op['operationId']}: error {status} {code} part {d!r} / {s!r} (row split at ' / ') "
            f"missing from x-weixin-errors; entries with code {code}: {same_code}")


# ---------------------------------------------------------------------------------------------
# 1. OpenAPI 3.1 validity


@pytest.mark.parametrize("name", SPEC_FILES)
def test_valid_openapi_31(name):
    spec = SPECS[name]
    assert spec.get("openapi", "").startswith("3.1"), f"{name}: openapi is {spec.get('openapi')!r}"
    validate(spec, cls=OpenAPIV31SpecValidator)


# ---------------------------------------------------------------------------------------------
# 2. Conventions (spec/README.md)

SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
SUBSCHEMA_ONE = ("items", "additionalProperties", "contains", "propertyNames", "not", "if",
                 "then", "else", "unevaluatedItems", "unevaluatedProperties")
SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")


def schema_nodes(node, where):
    """(where, node) for a schema and every subschema in it."""
    if not isinstance(node, dict):
        return
    yield where, node
    for key in SUBSCHEMA_MAPS:
        for name, sub in node.get(key, {}).items():
            yield from schema_nodes(sub, f"{where}.{key}.{name}")
    for key in SUBSCHEMA_ONE:
        yield from schema_nodes(node.get(key), f"{where}.{key}")
    for key in SUBSCHEMA_LISTS:
        for i, sub in enumerate(node.get(key, [])):
            yield from schema_nodes(sub, f"{where}.{key}[{i}]")


def root_schemas(spec):
    """(where, schema, is_component) for components.schemas and every `schema` elsewhere."""
    for name, sch in spec["components"]["schemas"].items():
        yield f"components.schemas.{name}", sch, True

    def walk(node, where):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("examples", "example") or where == "components" and key == "schemas":
                    continue
                if key == "schema" and isinstance(value, dict):
                    yield f"{where}.schema", value, False
                else:
                    yield from walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from walk(value, f"{where}[{i}]")

    for key, value in spec.items():
        yield from walk(value, key)


@pytest.mark.parametrize("name", SPEC_FILES)
def test_schema_conventions(name):
    spec = SPECS[name]
    problems = []
    for root_where, root, is_component in root_schemas(spec):
        for where, node in schema_nodes(root, root_where):
            top = is_component and where == root_where
            for key in ("anyOf", "oneOf", "allOf", "not", "pattern"):
                if key in node:
                    problems.append(f"{where}: uses `{key}`")
            if node.get("additionalProperties") is False:
                problems.append(f"{where}: additionalProperties false")
            if "format" in node and node["format"] not in ("int32", "int64"):
                problems.append(f"{where}: format {node['format']!r}")
            if (node.get("type") == "object" or "properties" in node) and not top:
                problems.append(f"{where}: inline object schema (must be a $ref)")
            if "enum" in node:
                if not top:
                    problems.append(f"{where}: inline enum (must be a named component schema)")
                if node.get("type") != "string":
                    problems.append(f"{where}: enum of type {node.get('type')!r}, not string")
                described = set(node.get("x-enum-descriptions", {}))
                if described != set(node["enum"]):
                    problems.append(f"{where}: x-enum-descriptions keys {sorted(described)} "
                                    f"!= enum {node['enum']}")
    assert not problems, f"{name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", SPEC_FILES)
def test_operation_conventions(name):
    spec = SPECS[name]
    api = spec.get("x-weixin-api")
    assert api in ("pay", "mini-program"), f"{name}: x-weixin-api is {api!r}"
    tags = {t["name"] for t in spec.get("tags", [])}
    schemes = set(spec["components"].get("securitySchemes", {}))
    ops = list(operations(spec))
    assert ops, f"{name}: no operations"
    problems = []
    for path, method, op in ops:
        where = f"{method.upper()} {path} ({op.get('operationId')})"
        if not op.get("operationId"):
            problems.append(f"{where}: no operationId")
        if len(op.get("tags", [])) != 1 or op["tags"][0] not in tags:
            problems.append(f"{where}: tags {op.get('tags')} (need exactly one declared tag)")
        security = op.get("security")
        allowed = [[]] + [[{scheme: []}] for scheme in schemes]
        if security is None:
            problems.append(f"{where}: no `security`")
        elif security not in allowed:
            problems.append(f"{where}: security {security} is not one of {allowed}")
        if any(p.get("name") == "access_token" for p in op.get("parameters", [])):
            problems.append(f"{where}: lists access_token as a parameter (the client injects it)")
        success = [s for s in op.get("responses", {}) if s.startswith("2")]
        if len(success) != 1:
            problems.append(f"{where}: success responses {success} (need exactly one 2xx)")
        elif success == ["204"] and "content" in op["responses"]["204"]:
            problems.append(f"{where}: 204 with content")
        elif success == ["200"]:
            content = op["responses"]["200"].get("content", {})
            if "$ref" not in content.get("application/json", {}).get("schema", {}):
                problems.append(f"{where}: 200 without an application/json $ref schema")
        elif success != ["204"]:
            problems.append(f"{where}: success status {success[0]} (need 200 or 204)")
        errors = op.get("x-weixin-errors")
        if not isinstance(errors, list) or not errors:
            problems.append(f"{where}: x-weixin-errors missing or empty")
            continue
        for i, e in enumerate(errors):
            tag = f"{where}: x-weixin-errors[{i}] {e.get('code', e.get('errcode'))}"
            if type(e.get("retryable")) is not bool:
                problems.append(f"{tag}: retryable {e.get('retryable')!r} is not a boolean")
            if "retry_after_secs" in e and not (type(e["retry_after_secs"]) is int and e["retry_after_secs"] > 0):
                problems.append(f"{tag}: retry_after_secs {e['retry_after_secs']!r} is not a positive integer")
            if "retry_after_secs" in e and e.get("retryable") is not True:
                problems.append(f"{tag}: retry_after_secs on a row that is not retryable")
            if "advice" in e and not (isinstance(e["advice"], str) and e["advice"]):
                problems.append(f"{tag}: advice must be a non-empty string")
            pay_ok = type(e.get("status")) is int and isinstance(e.get("code"), str)
            if api == "pay" and not pay_ok:
                problems.append(f"{tag}: needs integer status and string code, has {e}")
            if api == "mini-program" and type(e.get("errcode")) is not int:
                problems.append(f"{tag}: needs integer errcode, has {e}")
    for path, method, op in operations(spec, "webhooks"):
        if not op.get("operationId") or len(op.get("tags", [])) != 1:
            problems.append(f"webhook {path}: needs an operationId and exactly one tag")
    for server in spec.get("servers", []):
        if server.get("x-weixin-role") not in ("main", "backup"):
            problems.append(f"server {server.get('url')}: "
                            f"x-weixin-role {server.get('x-weixin-role')!r}")
    assert not problems, f"{name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", SPEC_FILES)
def test_refs_resolve(name):
    spec = SPECS[name]
    problems = []

    def walk(node, where):
        if isinstance(node, dict):
            if "$ref" in node:
                try:
                    pointer(spec, node["$ref"])
                except AssertionError as exc:
                    problems.append(f"{where}: {exc}")
            for key in ("x-weixin-resource-schema",):
                named = node.get(key)
                if isinstance(named, str) and named not in spec["components"]["schemas"]:
                    problems.append(f"{where}: {key} {node[key]!r} is not a schema")
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")

    walk(spec, name)
    assert not problems, "\n".join(problems)


def test_schema_names_unique_across_files():
    shared = set(PAY["components"]["schemas"]) & set(MP["components"]["schemas"])
    assert not shared, f"schema names in both wechatpay.json and miniprogram.json: {sorted(shared)}"


def test_schema_checker_is_not_vacuous():
    """The JSON Schema helper used below does reject bad instances, through nested $refs."""
    assert schema_errors(PAY, "ModifyStockInfoRequest", {"out_request_no": 1})
    assert schema_errors(PAY, "ModifyStockInfoRequest",
                         {"out_request_no": "x", "custom_entrance": {"code_display_mode": 7}})
    assert not schema_errors(PAY, "ModifyStockInfoRequest", {"out_request_no": "x"})


# ---------------------------------------------------------------------------------------------
# 3. Doc 01: setUserNotifyExt

DOC01_BODY = pipe_table(section(DOC01, "# 请求体", "# 3."), ["参数名", "类型", "必填", "说明"])
DOC01_RESPONSE = pipe_table(section(DOC01, "# 返回体", "# 4."), ["参数名", "类型", "说明"])
DOC01_ERRORS = pipe_table(section(DOC01, "# 6. 错误码", "# 7."), ["错误码", "错误描述", "解决方案"])
DOC01_OP = re.search(r"接口英文名:\s*(\w+)", DOC01).group(1)


def test_doc01_tables_parsed():
    assert DOC01_BODY and DOC01_RESPONSE and DOC01_ERRORS, "doc 01 tables not found"


@pytest.mark.parametrize("row", DOC01_BODY, ids=lambda r: r["参数名"])
def test_doc01_request_param(row):
    request = schema(MP, body_schema_name(operation(MP, DOC01_OP)))
    check_property(MP, request, row["参数名"], required=is_yes(row["必填"]),
                   type_=doc_type(row["类型"]), where=f"{DOC01_OP} request")


@pytest.mark.parametrize("row", DOC01_RESPONSE, ids=lambda r: r["参数名"])
def test_doc01_response_param(row):
    op = operation(MP, DOC01_OP)
    response = schema(MP, response_schema_name(op, "200"))
    props = response.get("properties", {})
    assert row["参数名"] in props, f"{DOC01_OP} response: {row['参数名']} missing"
    prop = resolve(MP, props[row["参数名"]])
    assert prop.get("type") == doc_type(row["类型"]), (
        f"{DOC01_OP} response: {row['参数名']} is {row['类型']} in the document, spec says "
        f"{prop.get('type')!r}")


def test_doc01_request_has_no_undocumented_properties():
    request = schema(MP, body_schema_name(operation(MP, DOC01_OP)))
    assert set(request["properties"]) == {r["参数名"] for r in DOC01_BODY}


def test_doc01_access_token_is_security():
    query = pipe_table(section(DOC01, "# 查询参数", "# 请求体"), ["参数名", "类型", "必填", "说明"])
    assert [r["参数名"] for r in query] == ["access_token"]
    op = operation(MP, DOC01_OP)
    assert op["security"] == [{"AccessToken": []}], f"{DOC01_OP}: security {op['security']}"
    scheme = MP["components"]["securitySchemes"]["AccessToken"]
    assert (scheme.get("in"), scheme.get("name")) == ("query", "access_token")


@pytest.mark.parametrize("row", DOC01_ERRORS, ids=lambda r: r["错误码"])
def test_doc01_error(row):
    errcode = int(row["错误码"])
    found = [e for e in operation(MP, DOC01_OP)["x-weixin-errors"] if e.get("errcode") == errcode]
    assert len(found) == 1, f"{DOC01_OP}: errcode {errcode} appears {len(found)} times"
    entry = found[0]
    assert norm(entry.get("errmsg")) == norm(row["错误描述"]), (
        f"{DOC01_OP} errcode {errcode}: errmsg {entry.get('errmsg')!r}, "
        f"document says {row['错误描述']!r}")
    assert norm(entry.get("solution")) == norm(row["解决方案"]), (
        f"{DOC01_OP} errcode {errcode}: solution {entry.get('solution')!r}, "
        f"document says {row['解决方案']!r}")


def test_doc01_examples_validate():
    op = operation(MP, DOC01_OP)
    request_name = body_schema_name(op)
    example = json_after(DOC01, "请求示例")
    assert not schema_errors(MP, request_name, example), schema_errors(MP, request_name, example)
    for name, prop in schema(MP, request_name)["properties"].items():
        if prop.get("x-weixin-json-encoded"):
            json.loads(example[name])  # the document's value is JSON text, as the flag says
    response = json_after(DOC01, "返回示例")
    errors = schema_errors(MP, response_schema_name(op, "200"), response)
    assert not errors, errors


# ---------------------------------------------------------------------------------------------
# 4. Doc 02: SetCouponNotify

DOC02_OP = "SetCouponNotify"
DOC02_PARAM_HEADER = ["参数名", "变量", "类型[长度限制]", "必填", "描述"]
DOC02_REQUEST = pipe_table(section(DOC02, "## 请求参数", "## 返回参数"), DOC02_PARAM_HEADER)
DOC02_RESPONSE = pipe_table(section(DOC02, "## 返回参数", "## 错误码"), DOC02_PARAM_HEADER)
DOC02_ERRORS = pipe_table(section(DOC02, "## 错误码"), ["状态码", "错误码", "描述", "解决方案"])


def doc02_schema(kind):
    op = operation(PAY, DOC02_OP)
    name = body_schema_name(op) if kind == "request" else response_schema_name(op, "200")
    return schema(PAY, name)


def test_doc02_tables_parsed():
    assert DOC02_REQUEST and DOC02_RESPONSE and DOC02_ERRORS, "doc 02 tables not found"


@pytest.mark.parametrize("kind,row", [("request", r) for r in DOC02_REQUEST]
                         + [("response", r) for r in DOC02_RESPONSE],
                         ids=lambda v: v["变量"] if isinstance(v, dict) else v)
def test_doc02_param(kind, row):
    name = row["变量"]
    m = re.fullmatch(r"(\w+)(?:\[(\d+),(\d+)\])?", row["类型[长度限制]"])
    prop = check_property(PAY, doc02_schema(kind), name, required=is_yes(row["必填"]),
                          type_=doc_type(m.group(1)), where=f"{DOC02_OP} {kind}")
    if m.group(2):
        limits = (prop.get("minLength"), prop.get("maxLength"))
        assert limits == (int(m.group(2)), int(m.group(3))), (
            f"{DOC02_OP} {kind} {name}: document says {row['类型[长度限制]']}, "
            f"spec has minLength/maxLength {limits}")
    example = re.search(r"示例值:\s*(\S+)", row["描述"])
    if example:
        assert example.group(1) in prop.get("examples", []), (
            f"{DOC02_OP} {kind} {name}: example {example.group(1)} not in spec examples "
            f"{prop.get('examples')}")
    if kind == "request" and "必须支持https" in row["描述"]:
        assert prop.get("x-weixin-requires-https") is True, (
            f"{DOC02_OP} request {name}: document requires https, no x-weixin-requires-https")


@pytest.mark.parametrize("kind", ["request", "response"])
def test_doc02_no_undocumented_properties(kind):
    rows = DOC02_REQUEST if kind == "request" else DOC02_RESPONSE
    assert set(doc02_schema(kind)["properties"]) == {r["变量"] for r in rows}


@pytest.mark.parametrize("row", DOC02_ERRORS, ids=lambda r: f"{r['状态码']}-{r['错误码']}")
def test_doc02_error(row):
    check_pay_error_row(operation(PAY, DOC02_OP), row)


@pytest.mark.parametrize("kind,marker", [("request", "请求示例"), ("response", "返回示例")],
                         ids=["request", "response"])
def test_doc02_examples_validate(kind, marker):
    example = json_after(DOC02, marker)
    name = body_schema_name(operation(PAY, DOC02_OP)) if kind == "request" else \
        response_schema_name(operation(PAY, DOC02_OP), "200")
    errors = schema_errors(PAY, name, example)
    assert not errors, f"doc 02 {marker} against {name}: {errors}"


# ---------------------------------------------------------------------------------------------
# 5. Doc 04: ModifyStockInfo (flattened page text)

DOC04_OP = re.search(r"public class (\w+) \{", DOC04).group(1)  # the Java sample names it
FIELD = (r"(?<![A-Za-z0-9_-])(?P<name>[A-Za-z_][A-Za-z0-9_-]*) (?P<req>必填|选填) "
         r"(?P<type>string|object|boolean|integer|number|array)(?:\((?P<max>\d+)\))?")
DOC04_TOKENS = re.compile(rf"(?P<open>属性[ |]*)|{FIELD}|(?P<close>(?<!\S)\|(?!\S))")


def doc04_fields(text):
    """Fields written `<name> 必填|选填 <type>` as dicts with `path` (parent field names), name,
    required, type, max (from `string(N)` or 字数上限为N个) and `notes` (the text up to the next
    field). `属性 |` opens the children of the object field before it; a lone `|` closes them."""
    fields, stack, last = [], [], None
    tokens = list(DOC04_TOKENS.finditer(text))
    for i, m in enumerate(tokens):
        if m["open"]:
            assert last is not None, "属性 | with no object field before it"
            stack.append(last["path"] + (last["name"],))
        elif m["close"]:
            assert stack, f"unbalanced | at {text[m.start() - 40:m.start()]!r}"
            stack.pop()
        else:
            notes = text[m.end(): tokens[i + 1].start() if i + 1 < len(tokens) else len(text)]
            words = re.search(r"字数上限为(\d+)个", notes)
            limit = m["max"] or (words and words[1])
            last = {"path": stack[-1] if stack else (), "name": m["name"],
                    "required": m["req"] == "必填", "type": m["type"],
                    "max": int(limit) if limit else None, "notes": notes}
            fields.append(last)
    assert not stack, f"unclosed 属性 blocks: {stack}"
    return fields


DOC04_HEADERS = doc04_fields(section(DOC04, "Header HTTP头参数", "path 路径参数"))
DOC04_PATH = doc04_fields(section(DOC04, "path 路径参数", "body 包体参数"))
DOC04_BODY = doc04_fields(section(DOC04, "body 包体参数", "请求示例"))
DOC04_JAVA = section(DOC04, f"public class {DOC04_OP}", "需配合微信支付工具库 wxpay_utility")
DOC04_ERRORS = [row for table in pipe_tables(DOC04, ["状态码", "错误码", "描述", "解决方案"])
                for row in table]


def field_id(f):
    return ".".join(f["path"] + (f["name"],))


def doc04_request():
    return schema(PAY, body_schema_name(operation(PAY, DOC04_OP)))


def doc04_parent_schema(path):
    node = doc04_request()
    for name in path:
        assert name in node.get("properties", {}), f"{DOC04_OP}: {name} missing (path {path})"
        node = resolve(PAY, node["properties"][name])
    return node


def test_doc04_parsed():
    assert DOC04_OP == "ModifyStockInfo", f"Java sample class is {DOC04_OP}"
    assert DOC04_PATH and DOC04_BODY and DOC04_ERRORS, "doc 04 fields or error tables not found"
    assert len(pipe_tables(DOC04, ["状态码", "错误码", "描述", "解决方案"])) == 2


@pytest.mark.parametrize("field", DOC04_PATH, ids=field_id)
def test_doc04_path_param(field):
    params = {p["name"]: p for p in operation(PAY, DOC04_OP).get("parameters", [])}
    assert field["name"] in params, f"{DOC04_OP}: path parameter {field['name']} missing"
    param = params[field["name"]]
    assert param["in"] == "path" and param.get("required") is field["required"], param
    assert resolve(PAY, param["schema"]).get("type") == doc_type(field["type"])


@pytest.mark.parametrize("field", DOC04_BODY, ids=field_id)
def test_doc04_body_field(field):
    where = f"{DOC04_OP} request {'.'.join(field['path']) or '<root>'}"
    prop = check_property(PAY, doc04_parent_schema(field["path"]), field["name"],
                          required=field["required"], type_=doc_type(field["type"]), where=where)
    if field["max"] is not None:
        assert prop.get("maxLength") == field["max"], (
            f"{where}.{field['name']}: document limits it to {field['max']} characters, "
            f"spec maxLength is {prop.get('maxLength')}")
    notes = field["notes"]
    if "该字段暂不支持修改" in notes:
        assert prop.get("x-weixin-modifiable") is False, (
            f"{where}.{field['name']}: document says 该字段暂不支持修改, no x-weixin-modifiable: false")
    if "该字段暂未开放" in notes:
        assert prop.get("x-weixin-not-yet-open") is True, (
            f"{where}.{field['name']}: document says 该字段暂未开放, no x-weixin-not-yet-open: true")
    transition = re.search(r"只允许从(true|false)改为(true|false)", notes)
    if transition:
        expected = {"from": transition[1] == "true", "to": transition[2] == "true"}
        assert prop.get("x-weixin-allowed-transition") == expected, (
            f"{where}.{field['name']}: document allows only {expected}, spec has "
            f"{prop.get('x-weixin-allowed-transition')}")


def test_doc04_field_rules_found():
    """The rule sentences the body test keys on are present in the parsed notes."""
    notes = {f["name"]: f["notes"] for f in DOC04_BODY}
    assert "该字段暂不支持修改" in notes.get("stock_name", "")
    assert "该字段暂未开放" in notes.get("subsidy", "") and "只允许从false改为true" in notes["subsidy"]


def test_doc04_headers():
    """Authorization is the WechatPay2 security scheme; Accept/Content-Type are application/json."""
    op = operation(PAY, DOC04_OP)
    for field in DOC04_HEADERS:
        if field["name"] == "Authorization":
            assert op["security"] == [{"WechatPay2": []}], f"{DOC04_OP}: security {op['security']}"
        elif "application/json" in field["notes"]:
            assert list(op["requestBody"]["content"]) == ["application/json"], (
                f"{DOC04_OP}: {field['name']} must be application/json, request body content is "
                f"{list(op['requestBody']['content'])}")


def java_enums():
    return {name: re.findall(r'@SerializedName\("([^"]+)"\)', body)
            for name, body in re.findall(r"public enum (\w+) \{(.*?)\}", DOC04_JAVA, re.S)}


def java_classes():
    """{class: [(json name, java type, serialized?)]} from the Java sample's model classes."""
    fields = r'@SerializedName\("(\w+)"\)(.*?)public (\w+) \w+;'
    return {name: [(json_name, jtype, "serialize = false" not in between)
                   for json_name, between, jtype in re.findall(fields, body, re.S)]
            for name, body in re.findall(r"public static class (\w+) \{(.*?)\}", DOC04_JAVA, re.S)}


@pytest.mark.parametrize("enum_name", ["CodeDisplayMode", "CouponUseMethod"])
def test_doc04_enum(enum_name):
    enums = java_enums()
    assert enums.get(enum_name), f"Java sample has no enum {enum_name} (found {sorted(enums)})"
    spec_enum = schema(PAY, enum_name)
    assert spec_enum.get("type") == "string"
    assert sorted(spec_enum.get("enum", [])) == sorted(enums[enum_name]), (
        f"{enum_name}: spec enum {spec_enum.get('enum')}, Java sample {enums[enum_name]}")


def test_doc04_java_model_matches_request_tree():
    """Walk the Java sample's classes from the request class alongside the spec schemas: same
    property names, String/Boolean types, nested classes as $refs, enum fields as the enum."""
    classes, enums = java_classes(), java_enums()
    request_class = f"{DOC04_OP}Request"
    assert request_class in classes, f"Java sample has no class {request_class}"
    problems = []

    def walk(java_class, spec_schema, where):
        body_fields = [(n, t) for n, t, serialized in classes[java_class] if serialized]
        if set(spec_schema.get("properties", {})) != {n for n, _ in body_fields}:
            problems.append(f"{where}: spec properties {sorted(spec_schema.get('properties', {}))}"
                            f" != Java {java_class} fields {sorted(n for n, _ in body_fields)}")
        for name, jtype in body_fields:
            raw = spec_schema.get("properties", {}).get(name)
            if raw is None:
                continue
            prop = resolve(PAY, raw)
            if jtype in ("String", "Boolean"):
                if prop.get("type") != jtype.lower():
                    problems.append(f"{where}.{name}: Java {jtype}, spec type {prop.get('type')!r}")
            elif jtype in enums:
                if "$ref" not in raw or sorted(prop.get("enum", [])) != sorted(enums[jtype]):
                    problems.append(f"{where}.{name}: Java enum {jtype} {enums[jtype]}, spec {raw}")
            elif jtype in classes:
                if "$ref" not in raw:
                    problems.append(f"{where}.{name}: Java class {jtype}, spec is not a $ref")
                walk(jtype, prop, f"{where}.{name}")
            else:
                problems.append(f"{where}.{name}: unexpected Java type {jtype}")

    walk(request_class, doc04_request(), request_class)
    path_only = [n for n, _, serialized in classes[request_class] if not serialized]
    params = {p["name"] for p in operation(PAY, DOC04_OP).get("parameters", [])
              if p["in"] == "path"}
    if set(path_only) != params:
        problems.append(f"Java non-body fields {path_only} != path parameters {sorted(params)}")
    assert not problems, "\n".join(problems)


def doc04_curl():
    """(URL, JSON body) of the curl sample. The flattening put each source line's number between
    tokens; outside JSON strings, drop the integers that continue the line count."""
    curl = section(DOC04, "请求示例", "需配合微信支付工具库")
    url = re.search(r"curl -X \w+ \\ \d+ (\S+)", curl).group(1)
    line = int(re.search(r"(\d+) -d '", curl).group(1)) + 1
    raw = re.search(r"-d '(.*?)'", curl, re.S).group(1)
    out = []
    for i, part in enumerate(re.split(r'("(?:[^"\\]|\\.)*")', raw)):
        if i % 2 == 0:  # outside a string
            def drop(m):
                nonlocal line
                if int(m.group()) != line:
                    return m.group()
                line += 1
                return " "
            part = re.sub(r"(?<![\w.-])\d+(?![\w.])", drop, part)
        out.append(part)
    return url, json.loads("".join(out))


def test_doc04_request_example_validates():
    url, body = doc04_curl()
    errors = schema_errors(PAY, body_schema_name(operation(PAY, DOC04_OP)), body)
    assert not errors, f"doc 04 curl body against the request schema: {errors}"
    # every field the Java sample assigns on the request also appears in the curl body
    assigned = set(re.findall(r"request\.(\w+) = ", DOC04_JAVA)) - {"stockId"}
    camel = {re.sub(r"_(\w)", lambda m: m[1].upper(), k) for k in body}
    assert assigned <= camel, f"Java sample sets {sorted(assigned - camel)} not in the curl body"
    # the path parameter from the URL fits its schema
    path = re.search(r"请求方式:【\w+】(\S+)", DOC04).group(1)
    pattern = re.escape(path).replace(r"\{stock_id\}", r"(?P<stock_id>[^/]+)")
    stock_id = re.search(pattern + "$", url).group("stock_id")
    param = next(p for p in operation(PAY, DOC04_OP)["parameters"] if p["name"] == "stock_id")
    errors = list(Draft202012Validator(param["schema"]).iter_errors(stock_id))
    assert not errors, f"stock_id {stock_id} from the curl URL: {[e.message for e in errors]}"


@pytest.mark.parametrize("row", DOC04_ERRORS, ids=lambda r: f"{r['状态码']}-{r['错误码']}")
def test_doc04_error(row):
    check_pay_error_row(operation(PAY, DOC04_OP), row)


def test_doc04_no_content_response():
    assert "无应答包体" in DOC04 and "204 No Content" in DOC04
    responses = operation(PAY, DOC04_OP)["responses"]
    success = [s for s in responses if s.startswith("2")]
    assert success == ["204"], f"{DOC04_OP}: success responses {success}, document says 204"
    assert "content" not in responses["204"], f"{DOC04_OP}: 204 has content"


# ---------------------------------------------------------------------------------------------
# 6. Doc 03: cardExt

DOC03_CARDEXT = pipe_table(section(DOC03, "cardExt 说明", "注:cardExt"),
                           ["参数", "类型", "必填", "是否参与签名", "说明"])
SIGNED = {"是": True, "否": False, "-": None}


def test_doc03_cardext_names():
    assert DOC03_CARDEXT, "doc 03 cardExt table not found"
    assert set(schema(MP, "CardExt")["properties"]) == {r["参数"] for r in DOC03_CARDEXT}


@pytest.mark.parametrize("row", DOC03_CARDEXT, ids=lambda r: r["参数"])
def test_doc03_cardext_field(row):
    name = row["参数"]
    prop = check_property(MP, schema(MP, "CardExt"), name, required=is_yes(row["必填"]),
                          type_=doc_type(row["类型"]), where="CardExt")
    signed = SIGNED[row["是否参与签名"]]
    actual = prop.get("x-weixin-signed")
    if signed is None:
        assert actual in (None, False), f"CardExt.{name}: document says '-', signed {actual}"
    else:
        assert actual is signed, f"CardExt.{name}: 是否参与签名 {row['是否参与签名']}, x-weixin-signed {actual}"
    limit = re.search(r"不长于\s*(\d+)\s*位", row["说明"])
    if limit:
        assert prop.get("maxLength") == int(limit[1]), (
            f"CardExt.{name}: document says 不长于 {limit[1]} 位, maxLength {prop.get('maxLength')}")


def test_doc03_nonce_str_limit_found():
    assert any(re.search(r"不长于\s*32\s*位", r["说明"]) for r in DOC03_CARDEXT if r["参数"] == "nonce_str")


# ---------------------------------------------------------------------------------------------
# 7. Sources, hosts and endpoints


@pytest.mark.parametrize("name", SPEC_FILES)
def test_every_operation_has_source(name):
    missing = [f"{m.upper()} {p}" for section_name in ("paths", "webhooks")
               for p, m, op in operations(SPECS[name], section_name)
               if not op.get("x-weixin-source")]
    assert not missing, f"{name}: operations without x-weixin-source: {missing}"


@pytest.mark.parametrize("name", SPEC_FILES)
def test_every_operation_says_whether_it_is_idempotent(name):
    """x-weixin-idempotent (a boolean) and the reason for it, on every operation the client sends
    (webhooks are WeChat's requests to the merchant: the key does not apply)."""
    bad = [f"{m.upper()} {p}" for p, m, op in operations(SPECS[name])
           if not isinstance(op.get("x-weixin-idempotent"), bool)
           or not str(op.get("x-weixin-idempotent-reason", "")).strip()]
    assert not bad, f"{name}: operations without x-weixin-idempotent and its reason: {bad}"


def test_idempotency_follows_the_documents():
    # /cgi-bin/token: 重复获取将导致上次获取的 access_token 失效 -> never resent.
    token = operation(MP, "getAccessToken")
    assert "重复获取将导致上次获取的 access_token 失效" in token["description"]
    assert token["x-weixin-idempotent"] is False
    # stable_token, normal mode: 有效期内重复调用该接口不会更新 access_token.
    stable = operation(MP, "getStableAccessToken")
    assert "重复调用该接口不会更新 access_token" in stable["description"]
    assert stable["x-weixin-idempotent"] is True
    # ModifyStockInfo carries out_request_no, 商户修改批次凭据号 ... 商户侧需保持唯一性.
    assert "商户修改批次凭据号(格式:商户ID+日期+流水号),商户侧需保持唯一性" in DOC04
    modify = operation(PAY, "ModifyStockInfo")
    assert "out_request_no" in PAY["components"]["schemas"][body_schema_name(modify)]["required"]
    assert modify["x-weixin-idempotent"] is True
    # Every quoted document phrase in a reason citing spec/sources/ is in that document.
    for spec in SPECS.values():
        for _, _, op in operations(spec):
            reason = op["x-weixin-idempotent-reason"]
            for doc in re.findall(r"spec/sources/[\w.-]+\.md", reason):
                text = (REPO / doc).read_text(encoding="utf-8")
                for quoted in re.findall(r"【[^】]+】[^ (]+", reason):
                    assert quoted in text, (op["operationId"], quoted, doc)


def source_citations(node, where="#"):
    """(JSON pointer, citation) for every x-weixin-source string in `node`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "x-weixin-source":
                for text in value if isinstance(value, list) else [value]:
                    yield where, text
            else:
                yield from source_citations(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from source_citations(value, f"{where}/{i}")


@pytest.mark.parametrize("name", SPEC_FILES)
def test_cited_documents_are_in_the_repository(name):
    """A citation of a document file names one this repository carries (spec/sources/)."""
    cited = [(where, m.group(0)) for where, text in source_citations(SPECS[name])
             for m in re.finditer(r"[\w./-]*\d\d-[\w.-]+\.md", text)]
    assert cited, f"{name}: no x-weixin-source cites a document of spec/sources/"
    wrong = [(where, doc) for where, doc in cited
             if not doc.startswith("spec/sources/") or not (REPO / doc).is_file()]
    assert not wrong, f"{name}: citations of documents the repository does not carry: {wrong}"


def servers_by_role(spec):
    return {s.get("x-weixin-role"): s["url"] for s in spec["servers"]}


def test_pay_hosts():
    line = section(DOC04, "请求域名", "请求参数")
    main = re.search(r"【主域名】\s*(https://[\w.-]+)", line).group(1)
    backup = re.search(r"【备域名】\s*(https://[\w.-]+)", line).group(1)
    assert servers_by_role(PAY) == {"main": main, "backup": backup}


def test_mini_program_host():
    method, host, path = re.search(r"^(GET|POST) (https://[\w.-]+)(/[^?\s]*)", DOC01, re.M).groups()
    assert servers_by_role(MP) == {"main": host}
    op = MP["paths"].get(path, {}).get(method.lower())
    assert op and op.get("operationId") == DOC01_OP, (
        f"{method} {path} should be {DOC01_OP} in miniprogram.json, "
        f"found {op and op.get('operationId')}")


def test_pay_endpoints():
    method, path = re.search(r"请求方式:【(\w+)】(\S+)", DOC04).groups()
    op = PAY["paths"].get(path, {}).get(method.lower())
    assert op and op.get("operationId") == DOC04_OP, f"doc 04: {method} {path} is not {DOC04_OP}"
    url = re.search(r"请求URL:\s*(https://[\w.-]+)(\S+)", DOC02)
    method = re.search(r"请求方式:\s*(\w+)", DOC02).group(1)
    assert url.group(1) == servers_by_role(PAY)["main"], f"doc 02 host {url.group(1)}"
    op = PAY["paths"].get(url.group(2), {}).get(method.lower())
    assert op and op.get("operationId") == DOC02_OP, (
        f"doc 02: {method} {url.group(2)} is not {DOC02_OP}")

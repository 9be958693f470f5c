#!/usr/bin/env python3
"""Generate common/src/config/schema_table.rs from a Bareos source checkout.

Usage: gen_schema.py <bareos git dir> [<rev>] > common/src/config/schema_table.rs

Only facts are extracted: for every resource type of every daemon, the directive
names, their value type (CFG_TYPE_*), whether they are required or deprecated,
their aliases and their documented default. The Rust shape of the table is ours.
"""
import re
import subprocess
import sys

GIT = sys.argv[1]
REV = sys.argv[2] if len(sys.argv) > 2 else "HEAD"


def show(path):
    return subprocess.run(["git", "-C", GIT, "show", f"{REV}:{path}"],
                          check=True, capture_output=True, text=True).stdout


R_CODES = {"MSGS": "Messages", "POOL": "Pool", "STORAGE": "Storage", "CATALOG": "Catalog",
           "CLIENT": "Client", "FILESET": "FileSet", "SCHEDULE": "Schedule", "JOB": "Job",
           "JOBDEFS": "JobDefs", "PROFILE": "Profile", "COUNTER": "Counter", "DEVICE": "Device",
           "DIRECTOR": "Director", "CONSOLE": "Console"}
DEFAULT_MACROS = {"FD_DEFAULT_PORT": "9102", "SD_DEFAULT_PORT": "9103", "DIR_DEFAULT_PORT": "9101"}


def camel(cfg):
    special = {
        "STR": "Str", "DIR": "Dir", "MD5PASSWORD": "Md5Password", "CLEARPASSWORD": "ClearPassword",
        "AUTOPASSWORD": "AutoPassword", "NAME": "Name", "STRNAME": "StrName", "RES": "Res",
        "ALIST_RES": "ResList", "ALIST_STR": "StrList", "ALIST_DIR": "DirList", "INT16": "Int16",
        "PINT16": "PInt16", "INT32": "Int32", "PINT32": "PInt32", "MSGS": "Messages", "INT64": "Int64",
        "BIT": "Bit", "BOOL": "Bool", "TIME": "Time", "SIZE64": "Size64", "SIZE32": "Size32",
        "SPEED": "Speed", "DEFS": "Defs", "LABEL": "Label", "ADDRESSES": "Addresses",
        "ADDRESSES_ADDRESS": "AddressesAddress", "ADDRESSES_PORT": "AddressesPort",
        "PLUGIN_NAMES": "PluginNames", "STDSTR": "Str", "STDSTRDIR": "Dir", "STR_VECTOR": "StrList",
        "STR_VECTOR_OF_DIRS": "DirList", "DIR_OR_CMD": "DirOrCmd", "ACL": "Acl", "AUDIT": "Audit",
        "AUTHPROTOCOLTYPE": "AuthProtocolType", "AUTHTYPE": "AuthType", "DEVICE": "Device",
        "JOBTYPE": "JobType", "PROTOCOLTYPE": "ProtocolType", "LEVEL": "Level", "REPLACE": "Replace",
        "SHRTRUNSCRIPT": "ShortRunScript", "RUNSCRIPT": "RunScript", "RUNSCRIPT_CMD": "RunScriptCmd",
        "RUNSCRIPT_TARGET": "RunScriptTarget", "RUNSCRIPT_BOOL": "RunScriptBool",
        "RUNSCRIPT_WHEN": "RunScriptWhen", "MIGTYPE": "MigrationType", "INCEXC": "IncludeExclude",
        "RUN": "Run", "ACTIONONPURGE": "ActionOnPurge", "POOLTYPE": "PoolType", "FNAME": "FileName",
        "PLUGINNAME": "PluginName", "EXCLUDEDIR": "ExcludeDir", "OPTIONS": "Options",
        "OPTION": "Option", "REGEX": "Regex", "BASE": "Base", "WILD": "Wild", "PLUGIN": "Plugin",
        "FSTYPE": "FsType", "DRIVETYPE": "DriveType", "META": "Meta", "MAXBLOCKSIZE": "MaxBlockSize",
        "IODIRECTION": "IoDirection", "CMPRSALGO": "CompressionAlgorithm", "CIPHER": "Cipher",
    }
    return special[cfg]


ITEM_RE = re.compile(r'\{\s*"(\w+)"\s*,\s*CFG_TYPE_(\w+)\s*,(.*)$')


def parse_flags(rest):
    flags = {"required": "config::Required" in rest,
             "deprecated": "DeprecatedSince" in rest,
             "no_equals": "UsesNoEquals" in rest,
             "aliases": [], "default": None, "target": None}
    m = re.search(r'config::Code\{R_(\w+)\}', rest)
    if m:
        flags["target"] = R_CODES.get(m.group(1))
    m = re.search(r'config::Alias\{([^}]*)\}', rest)
    if m:
        flags["aliases"] = re.findall(r'"(\w+)"', m.group(1))
    m = re.search(r'config::DefaultValue\{([^}]*)\}', rest)
    if m:
        v = m.group(1).strip()
        if v.startswith('"'):
            flags["default"] = re.match(r'"((?:[^"\\]|\\.)*)"', v).group(1)
        elif v in DEFAULT_MACROS:
            flags["default"] = DEFAULT_MACROS[v]
    return flags


def join_items(text):
    """Join a C item list into one logical line per item (items may span lines)."""
    out, cur, depth = [], "", 0
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#") or s.startswith("/*") or s.startswith("//"):
            continue
        s = s.rstrip("\\").strip()
        cur += " " + s
        depth += s.count("{") - s.count("}")
        if depth <= 0:
            out.append(cur.strip())
            cur, depth = "", 0
    return out


def items_of(src, array, macros):
    m = re.search(r'ResourceItem\s+' + array + r'\[\]\s*=\s*\{(.*?)\n\s*\{\s*\}\s*,?\s*\n\s*\};', src, re.S)
    if not m:
        raise SystemExit(f"array {array} not found")
    items = []
    for line in join_items(m.group(1)):
        mm = re.match(r'(\w+)\(', line)
        if mm and mm.group(1) in macros:
            items.extend(macros[mm.group(1)])
            continue
        im = ITEM_RE.match(line)
        if im:
            items.append((im.group(1), camel(im.group(2)), parse_flags(im.group(3))))
    return items


def macro_items(src, name):
    m = re.search(r'#define\s+' + name + r'\([^)]*\)\s*\\?\n(.*?)(?:\n\s*\n|\n#|\n/\*)', src, re.S)
    body = m.group(1)
    items = []
    for line in join_items(body.replace("\\\n", "\n")):
        im = ITEM_RE.match(line.strip().rstrip(","))
        if im:
            items.append((im.group(1), camel(im.group(2)), parse_flags(im.group(3))))
    return items


tls = show("core/src/lib/tls_resource_items.h")
msgs_src = show("core/src/lib/messages_resource_items.h")
macros = {"TLS_COMMON_CONFIG": macro_items(tls, "TLS_COMMON_CONFIG"),
          "TLS_CERT_CONFIG": macro_items(tls, "TLS_CERT_CONFIG")}
dird = show("core/src/dird/dird_conf.cc")
macros["USER_ACL"] = macro_items(dird, "USER_ACL")
macros["ACL_PROFILE"] = macro_items(dird, "ACL_PROFILE")
msgs = items_of(msgs_src, "msgs_items", macros)


def tables(src):
    """Resource tables: (name, items array, aliases, deprecated)."""
    m = re.search(r'ResourceTable\s+\w+\[\]\s*=\s*\{(.*?)\n\s*\{\s*\}\s*\}?;', src, re.S)
    body = m.group(1)
    out = []
    for em in re.finditer(r'\{\s*"(\w+)"\s*,\s*"\w+"\s*,\s*(\w+)\s*,(.*?)(?=\n\s*\{\s*"|\Z)', body, re.S):
        name, arr, rest = em.group(1), em.group(2), em.group(3)
        aliases = re.findall(r'\{\s*"(\w+)"\s*,\s*"\w+"\s*\}', rest)
        deprecated = re.search(r'\{\s*\}\s*,\s*true', rest) is not None
        out.append((name, arr, aliases, deprecated))
    return out


daemons = [
    ("DIRECTOR", dird, "core/src/dird/dird_conf.cc"),
    ("STORAGE", show("core/src/stored/stored_conf.cc"), "core/src/stored/stored_conf.cc"),
    ("FILE_DAEMON", show("core/src/filed/filed_conf.cc"), "core/src/filed/filed_conf.cc"),
    ("CONSOLE", show("core/src/console/console_conf.cc"), "core/src/console/console_conf.cc"),
]

rev = subprocess.run(["git", "-C", GIT, "rev-parse", REV], check=True, capture_output=True,
                     text=True).stdout.strip()


def rs_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def emit_items(const, items):
    print(f"pub(super) static {const}: &[DirectiveDef] = &[")
    for name, kind, f in items:
        aliases = ", ".join(rs_str(a) for a in f["aliases"])
        default = f"Some({rs_str(f['default'])})" if f["default"] is not None else "None"
        target = f"Some({rs_str(f['target'])})" if f["target"] is not None else "None"
        print(f"    d({rs_str(name)}, Kind::{kind}, &[{aliases}], {str(f['required']).lower()}, "
              f"{str(f['deprecated']).lower()}, {str(f['no_equals']).lower()}, {default}, {target}),")
    print("];\n")


print("// @generated by common/tools/gen_schema.py from Bareos " + rev + ";")
print("// do not edit by hand. Facts only (directive names, value types, flags, defaults) taken")
print("// from the Bareos *_conf.cc resource tables; see schema.rs for how they are used.")
print("use super::schema::{d, DirectiveDef, Kind, ResourceDef};\n")
inc = show("core/src/dird/inc_conf.cc")
emit_items("INCLUDE_ITEMS", items_of(inc, "newinc_items", macros))
emit_items("OPTIONS_ITEMS", items_of(inc, "options_items", macros))
emit_items("RUNSCRIPT_ITEMS", items_of(dird, "runscript_items", macros))
emit_items("MESSAGES_ITEMS", msgs)
for dname, src, path in daemons:
    seen = {}
    res = []
    for name, arr, aliases, deprecated in tables(src):
        const = f"{dname}_{arr.upper()}"
        if arr == "msgs_items":
            const = "MESSAGES_ITEMS"
        elif arr not in seen:
            emit_items(const, items_of(src, arr, macros))
            seen[arr] = const
        else:
            const = seen[arr]
        res.append((name, const, aliases, deprecated))
    print(f"/// Resource types of {path}.")
    print(f"pub(super) static {dname}_RESOURCES: &[ResourceDef] = &[")
    for name, const, aliases, deprecated in res:
        al = ", ".join(rs_str(a) for a in aliases)
        print(f"    ResourceDef {{ name: {rs_str(name)}, aliases: &[{al}], items: {const}, deprecated: {str(deprecated).lower()} }},")
    print("];\n")

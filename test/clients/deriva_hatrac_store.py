"""DERIVA's HatracStore (PyPI deriva, unchanged) against our /hatrac over plain HTTP with a bearer token.

Usage: deriva_hatrac_store.py HOST:PORT TOKEN OTHER_TOKEN WORKDIR

Walks namespaces, put with the dedup HEAD, get with checksum verification, ACLs, rename, a chunked
upload of a file larger than its chunk size and deletes; prints one line per step and OK at the end.
The namespace /hatrac/deriva/keep is left in place for the caller to inspect through REST.
"""
import hashlib
import base64
import os
import sys

import requests
from deriva.core import DEFAULT_SESSION_CONFIG
from deriva.core.hatrac_store import HatracStore, HatracHashMismatch

host, token, other_token, work = sys.argv[1:5]

# The client retries 5xx answers for minutes by default; here a 5xx must fail at once and visibly.
session_config = dict(DEFAULT_SESSION_CONFIG)
session_config.update({"retry_read": 0, "retry_connect": 0, "retry_status_forcelist": []})

store = HatracStore("http", host, {"bearer-token": token}, session_config=session_config)
other = HatracStore("http", host, {"bearer-token": other_token}, session_config=session_config)
anon = HatracStore("http", host, None, session_config=session_config)


def step(msg):
    print(msg, flush=True)


def status_of(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except requests.HTTPError as e:
        return e.response.status_code
    return None


def write(name, data):
    p = os.path.join(work, name)
    with open(p, "wb") as f:
        f.write(data)
    return p


def read(p):
    with open(p, "rb") as f:
        return f.read()


def b64(digest):
    return base64.b64encode(digest).decode()


def versions(path):
    r = store.get(path + ";versions")
    return r.json()


root = "/hatrac/deriva"

# namespaces
store.create_namespace(root + "/keep/sub", parents=True)
assert store.is_valid_namespace(root + "/keep/sub")
assert not store.is_valid_namespace(root + "/nothing")
assert store.retrieve_namespace(root) == [root + "/keep"], store.retrieve_namespace(root)
assert status_of(store.create_namespace, root + "/keep/sub") == 409
assert status_of(store.create_namespace, root + "/missing/x", parents=False) == 404
store.create_namespace(root + "/scratch", parents=False)
step("namespaces")

# a small object: put (with the dedup HEAD), get with checksum verification
small = os.urandom(5000)
small_path = write("small.bin", small)
obj = root + "/keep/sub/small.bin"
loc = store.put_obj(obj, small_path, content_type="application/x-test")
assert loc.startswith(obj + ":"), loc
assert loc == store.put_obj(obj, small_path), "a second put of the same bytes must be skipped by the HEAD check"
assert versions(obj) == [loc], versions(obj)
head = store.head(obj)
assert head.headers["Content-MD5"] == b64(hashlib.md5(small).digest()), head.headers
assert head.headers["Content-Location"] == loc, head.headers
assert store.content_equals(obj, filename=small_path)
out = os.path.join(work, "small.out")
r = store.get_obj(obj, destfilename=out)
assert read(out) == small
assert r.headers["Content-Type"] == "application/x-test", r.headers
assert "Content-MD5" in r.headers or "Content-SHA256" in r.headers
# with a SHA-256 instead of an MD5: still deduplicated against the stored SHA-256 when present
sha = b64(hashlib.sha256(small).digest())
loc_sha = store.put_obj(obj, small_path, sha256=sha)
assert loc_sha.startswith(obj + ":"), loc_sha
if "Content-SHA256" in head.headers:
    assert loc_sha == loc
changed = write("small2.bin", small + b"!")
loc2 = store.put_obj(obj, changed)
assert loc2 != loc and loc2.startswith(obj + ":"), (loc, loc2)
assert store.get_obj(obj).content == small + b"!"
assert store.get_obj(loc).content == small
step("small put/get")

# checksum verification on get: the client compares its own digest with the server's
store.get_obj(obj, destfilename=out)
assert read(out) == small + b"!"
step("checksum verified")

# a stored MD5 that does not match the bytes is caught (by the client, or by the server's own check)
store.put(root + "/keep/tampered", data=b"real bytes", headers={"Content-Type": "application/octet-stream"})
store.put(root + "/keep/tampered;metadata/content-md5", data=b64(hashlib.md5(b"other bytes").digest()),
          headers={"Content-Type": "text/plain"})
try:
    store.get_obj(root + "/keep/tampered", destfilename=os.path.join(work, "tampered.out"))
except (HatracHashMismatch, requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError):
    pass
else:
    raise AssertionError("a checksum mismatch went unnoticed")
store.del_obj(root + "/keep/tampered")
step("checksum mismatch detected")

# an empty file (requests sends it chunked, without Content-Length)
empty_path = write("empty.bin", b"")
eloc = store.put_obj(root + "/keep/empty.bin", empty_path)
assert eloc.startswith(root + "/keep/empty.bin:"), eloc
assert store.get_obj(root + "/keep/empty.bin").content == b""
step("empty put")

# chunked upload of a file larger than its chunk size, chunk size 64 KiB, last chunk short
big = os.urandom(3 * 65536 + 12345)
big_path = write("big.bin", big)
bobj = root + "/keep/big.bin"
bloc = store.put_loc(bobj, big_path, chunked=True, chunk_size=65536, content_type="application/octet-stream")
assert bloc.startswith(bobj + ":"), bloc
assert store.put_loc(bobj, big_path, chunked=True, chunk_size=65536) == bloc, "dedup HEAD before a chunked upload"
bout = os.path.join(work, "big.out")
r = store.get_obj(bobj, destfilename=bout)
assert read(bout) == big
assert r.headers["Content-MD5"] == b64(hashlib.md5(big).digest()), r.headers
assert store.get(bobj + ";upload").json() == []
step("chunked put")

# ACLs: object and namespace, whole lists and single roles
acl = store.get_acl(obj)
assert set(acl.keys()) == {"owner", "update", "read", "subtree-owner", "subtree-read"}, acl
assert acl["owner"] == ["deriva.user"], acl
store.set_acl(obj, "read", ["deriva.other"])
assert store.get_acl(obj, "read") == {"read": ["deriva.other"]}
store.set_acl(obj, "read", ["g:some group"], add_role=True)
assert sorted(store.get_acl(obj, "read")["read"]) == ["deriva.other", "g:some group"]
assert store.get_acl(obj, "read", "g:some group") == {"read": ["g:some group"]}
store.del_acl(obj, "read", "g:some group")
assert status_of(store.get_acl, obj, "read", "g:some group") == 404
store.del_acl(obj, "read")
assert store.get_acl(obj, "read") == {"read": []}
assert status_of(store.get_acl, obj, "create") == 400
ns_acl = store.get_acl(root + "/keep")
assert set(ns_acl.keys()) == {"owner", "create", "read", "subtree-owner", "subtree-create", "subtree-read", "subtree-update"}, ns_acl
# nobody else reads it until a subtree-read on the namespace lets everyone read the objects below
assert status_of(other.get_obj, obj) == 403
assert status_of(anon.get_obj, obj) == 401
store.set_acl(root + "/keep", "subtree-read", ["*"], add_role=True)
assert anon.get_obj(obj).content == small + b"!"
assert other.get_obj(bobj).content == big
assert status_of(other.set_acl, obj, "read", ["*"]) == 403
store.del_acl(root + "/keep", "subtree-read", "*")
assert status_of(anon.get_obj, obj) == 401
step("acls")

# rename: the client sends source_name without /hatrac and "versions" for a selection
store.put_obj(root + "/scratch/a.txt", write("a.txt", b"version a"))
store.put_obj(root + "/scratch/a.txt", write("a2.txt", b"version a2"))
store.set_acl(root + "/scratch/a.txt", "read", ["deriva.other"])
res = store.rename_obj(root + "/scratch/a.txt", root + "/scratch/b.txt", copy_acls=True)
assert all(line.startswith(root + "/scratch/b.txt:") for line in res.split("\n")), res
assert len(res.split("\n")) == 2, res
assert store.get_acl(root + "/scratch/b.txt", "read") == {"read": ["deriva.other"]}
# a repeat creates nothing (204, empty body: the client then returns the request's own path)
assert store.rename_obj(root + "/scratch/a.txt", root + "/scratch/b.txt", copy_acls=True) == root + "/scratch/b.txt"
assert store.get_obj(root + "/scratch/a.txt").headers["Content-Location"].startswith(root + "/scratch/b.txt:")
store.put_obj(root + "/scratch/c.txt", write("c.txt", b"c one"))
c2 = store.put_obj(root + "/scratch/c.txt", write("c2.txt", b"c two"))
cv = c2.split(":")[-1]
res = store.rename_obj(root + "/scratch/c.txt", root + "/scratch/d.txt", versions=[cv])
assert res == root + "/scratch/d.txt:" + cv, res
assert store.get_obj(root + "/scratch/d.txt").content == b"c two"
assert status_of(store.rename_obj, root + "/scratch/none.txt", root + "/scratch/e.txt") == 409
step("rename")

# deletes
store.del_obj(root + "/scratch/b.txt")
assert status_of(store.get_obj, root + "/scratch/b.txt") == 404
assert status_of(store.del_obj, root + "/scratch/b.txt") == 404
assert status_of(store.put_obj, root + "/scratch/b.txt", write("b.txt", b"again")) == 409
store.delete_namespace(root + "/scratch")
assert not store.is_valid_namespace(root + "/scratch")
assert store.retrieve_namespace(root) == [root + "/keep"]
step("deletes")

print("OK")

"""Girder's Python client, unchanged, against our tree: upload a directory (nested folders, an
empty file and a file over 100 MiB that goes in chunks), list it, set metadata, download it back
recursively and compare byte for byte, upload again with --reuse, then delete."""
import filecmp
import os
import subprocess
import sys
import tempfile

import girder_client

api_url, token, work = sys.argv[1:4]
big_mib = int(sys.argv[4]) if len(sys.argv) > 4 else 130

src = os.path.join(work, "tree")
os.makedirs(os.path.join(src, "nested", "deeper"))
with open(os.path.join(src, "six.txt"), "wb") as f:
    f.write(b"sixsix")
open(os.path.join(src, "empty.dat"), "wb").close()
with open(os.path.join(src, "nested", "leaf one.txt"), "wb") as f:
    f.write("ünïcode leaf\n".encode())
with open(os.path.join(src, "nested", "deeper", "leaf#2.txt"), "wb") as f:
    f.write(b"second leaf")
with open(os.path.join(src, "nested", "big.bin"), "wb") as f:
    block = os.urandom(1024 * 1024)
    for i in range(big_mib):
        f.write(block[i:] + block[:i])

gc = girder_client.GirderClient(apiUrl=api_url)
gc.setToken(token)

coll = gc.createCollection("gc-compat", public=False)
root = gc.createFolder(coll["_id"], "root", parentType="collection")
gc.upload(src, root["_id"], parentType="folder")

tree_folder = next(gc.listFolder(root["_id"], name="tree"))
names = sorted(i["name"] for i in gc.listItem(tree_folder["_id"]))
assert names == ["empty.dat", "six.txt"], names
nested = next(gc.listFolder(tree_folder["_id"], name="nested"))
big = next(gc.listItem(nested["_id"], name="big.bin"))
assert big["size"] == big_mib * 1024 * 1024, big

gc.addMetadataToFolder(nested["_id"], {"sample": "S1", "count": 3})
gc.addMetadataToItem(big["_id"], {"kind": "random"})
assert gc.getFolder(nested["_id"])["meta"] == {"sample": "S1", "count": 3}
assert gc.getItem(big["_id"])["meta"] == {"kind": "random"}

dest = os.path.join(work, "download")
gc.downloadFolderRecursive(tree_folder["_id"], dest)
cmp = filecmp.dircmp(src, dest)


def same(c):
    if c.left_only or c.right_only or c.diff_files or c.funny_files:
        raise AssertionError(f"differs: {c.left_only} {c.right_only} {c.diff_files} {c.funny_files}")
    for f in c.common_files:
        assert filecmp.cmp(os.path.join(c.left, f), os.path.join(c.right, f), shallow=False), f
    for sub in c.subdirs.values():
        same(sub)


same(cmp)

# the CLI, in auto mode, with --reuse: nothing new is made
env = dict(os.environ)
cli = [os.path.join(os.path.dirname(sys.executable), "girder-client"), "--api-url", api_url, "--token", token]
subprocess.run(cli + ["upload", "--reuse", root["_id"], src], check=True, env=env, capture_output=True)
assert len(list(gc.listFolder(root["_id"]))) == 1
assert sorted(i["name"] for i in gc.listItem(tree_folder["_id"])) == ["empty.dat", "six.txt"]

gc.delete("collection/%s" % coll["_id"])
try:
    gc.getFolder(root["_id"])
except girder_client.HttpError as e:
    assert e.status in (400, 404), e.status
else:
    raise AssertionError("the folder survived the deletion of its collection")
print("OK")

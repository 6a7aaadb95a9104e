"""Buckets, listings and batch deletes through the official SDKs, as their own integration
suites set up and clean up: oss2 2.19.1 (V1 and V4) and alibabacloud-oss-v2 1.4.1 (V1 and V4)
create and delete buckets, list buckets and objects with their paginators (oss2's
BucketIterator, ObjectIterator, ObjectIteratorV2, MultipartUploadIterator; v2's
list_*_paginator), pages of 1 and of 1,000, and delete in batches."""

from concurrent.futures import ThreadPoolExecutor

import alibabacloud_oss_v2 as oss
import oss2
import pytest
from oss2.models import BatchDeleteObjectVersion, BatchDeleteObjectVersionList

import sdks
from conftest import AK, SK

REGION = "cn-hangzhou"

# Keys a URL or an XML document must carry encoded: OSS lists them with encoding-type=url.
ODD_KEYS = ["with space", "plus+sign", "per%cent", "ünï/cödé", "new\nline", "amp&<tag>"]


class Oss2(sdks.Oss2):
    """sdks.py's oss2 face (its `failure`), on any bucket, signing with `auth`."""

    def __init__(self, server, auth):
        super().__init__(server)
        self.server, self.auth = server, auth
        self.service = oss2.Service(auth, server.url, region=REGION)

    def bucket_of(self, name):
        return oss2.Bucket(self.auth, self.server.url, name, region=REGION)

    def create_bucket(self, name, storage_class=None):
        config = oss2.models.BucketCreateConfig(storage_class) if storage_class else None
        self.bucket_of(name).create_bucket(input=config)

    def delete_bucket(self, name):
        self.bucket_of(name).delete_bucket()

    def bucket_names(self, prefix, page):
        return [b.name for b in oss2.BucketIterator(self.service, prefix=prefix, max_keys=page)]

    def put_in(self, bucket, key, data=b"x"):
        self.bucket_of(bucket).put_object(key, data)

    def list(self, bucket, version, page, prefix="", delimiter=""):
        """(keys, common prefixes) over every page."""
        iterator = oss2.ObjectIterator if version == 1 else oss2.ObjectIteratorV2
        entries = list(iterator(self.bucket_of(bucket), prefix=prefix, delimiter=delimiter, max_keys=page))
        return ([e.key for e in entries if not e.is_prefix()], [e.key for e in entries if e.is_prefix()])

    def versions(self, bucket):
        result = self.bucket_of(bucket).list_object_versions()
        assert not result.is_truncated
        return [(v.key, v.versionid, v.is_latest) for v in result.versions]

    def uploads(self, bucket):
        return list(oss2.MultipartUploadIterator(self.bucket_of(bucket)))

    def batch_delete(self, bucket, keys, quiet):
        assert not quiet, "oss2's batch_delete_objects is verbose only"
        return self.bucket_of(bucket).batch_delete_objects(keys).deleted_keys

    def delete_null_versions(self, bucket, keys):
        versions = BatchDeleteObjectVersionList()
        for key in keys:
            versions.append(BatchDeleteObjectVersion(key, "null"))
        result = self.bucket_of(bucket).delete_object_versions(versions)
        return [(v.key, v.versionid) for v in result.delete_versions]

    def delete_null_version(self, bucket, key):
        self.bucket_of(bucket).delete_object(key, params={"versionId": "null"})


class V2(sdks.V2):
    """sdks.py's alibabacloud-oss-v2 face (its client and `failure`), on any bucket."""

    def create_bucket(self, name, storage_class=None):
        config = oss.CreateBucketConfiguration(storage_class=storage_class) if storage_class else None
        self.client.put_bucket(oss.PutBucketRequest(bucket=name, create_bucket_configuration=config))

    def delete_bucket(self, name):
        self.client.delete_bucket(oss.DeleteBucketRequest(bucket=name))

    def bucket_names(self, prefix, page):
        pages = self.client.list_buckets_paginator(limit=page).iter_page(oss.ListBucketsRequest(prefix=prefix))
        return [b.name for p in pages for b in (p.buckets or [])]

    def put_in(self, bucket, key, data=b"x"):
        self.client.put_object(oss.PutObjectRequest(bucket=bucket, key=key, body=data))

    def list(self, bucket, version, page, prefix="", delimiter=""):
        if version == 1:
            paginator = self.client.list_objects_paginator(limit=page)
            request = oss.ListObjectsRequest(bucket=bucket, prefix=prefix, delimiter=delimiter)
        else:
            paginator = self.client.list_objects_v2_paginator(limit=page)
            request = oss.ListObjectsV2Request(bucket=bucket, prefix=prefix, delimiter=delimiter)
        keys, prefixes = [], []
        for p in paginator.iter_page(request):
            keys += [c.key for c in p.contents or []]
            prefixes += [c.prefix for c in p.common_prefixes or []]
        return keys, prefixes

    def versions(self, bucket):
        pages = self.client.list_object_versions_paginator().iter_page(oss.ListObjectVersionsRequest(bucket=bucket))
        return [(v.key, v.version_id, v.is_latest) for p in pages for v in p.version or []]

    def uploads(self, bucket):
        pages = self.client.list_multipart_uploads_paginator().iter_page(
            oss.ListMultipartUploadsRequest(bucket=bucket))
        return [u for p in pages for u in p.uploads or []]

    def batch_delete(self, bucket, keys, quiet):
        objects = [oss.ObjectIdentifier(key=k) for k in keys]
        result = self.client.delete_multiple_objects(oss.DeleteMultipleObjectsRequest(
            bucket=bucket, delete=oss.Delete(objects=objects, quiet=quiet)))
        return [d.key for d in result.deleted_objects or []]

    def delete_null_versions(self, bucket, keys):
        objects = [oss.ObjectIdentifier(key=k, version_id="null") for k in keys]
        result = self.client.delete_multiple_objects(oss.DeleteMultipleObjectsRequest(
            bucket=bucket, delete=oss.Delete(objects=objects, quiet=False)))
        return [(d.key, d.version_id) for d in result.deleted_objects]

    def delete_null_version(self, bucket, key):
        self.client.delete_object(oss.DeleteObjectRequest(bucket=bucket, key=key, version_id="null"))


SDKS = {
    "oss2-v1": lambda server: Oss2(server, oss2.Auth(AK, SK)),
    "oss2-v4": lambda server: Oss2(server, oss2.AuthV4(AK, SK)),
    "v2-v1": lambda server: V2(server, "v1"),
    "v2-v4": lambda server: V2(server, "v4"),
}


@pytest.fixture(params=list(SDKS))
def sdk(request, server):
    return SDKS[request.param](server)


def errors(sdk, call):
    """Status, code and EC of the error `call` fails with."""
    failure = sdk.failure(call)
    return failure.status, failure.code, failure.ec


def requests_counted(server, op):
    """How many requests of `op` the server has received (its `/-/stats` counter)."""
    for line in server.control("GET", "/-/stats").splitlines():
        name, count = line.split()
        if name == op:
            return int(count)
    raise AssertionError(f"no counter for {op}")


def fill(sdk, bucket, keys):
    sdk.create_bucket(bucket)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda key: sdk.put_in(bucket, key), keys))


def test_buckets_are_created_listed_by_prefix_in_pages_and_deleted(sdk):
    names = [f"sdk-test-bucket-{i}" for i in range(3)]
    for name in names:
        sdk.create_bucket(name)
    assert sdk.bucket_names("sdk-test-", 1) == names
    assert sdk.bucket_names("sdk-test-", 1000) == names
    assert sdk.bucket_names("", 2) == names + ["test-bucket"]
    for name in names:
        sdk.delete_bucket(name)
    assert sdk.bucket_names("sdk-test-", 100) == []
    assert errors(sdk, lambda: sdk.delete_bucket(names[0])) == (404, "NoSuchBucket", "0015-00000101")


def test_a_bucket_made_again_keeps_its_objects_and_class_and_is_not_deleted_while_it_holds_any(sdk):
    # OSS's PutBucket reference: a PutBucket of a bucket its own account has succeeds again;
    # its 409 page: the storage class cannot be changed.
    sdk.create_bucket("busy-bucket", "IA")
    sdk.put_in("busy-bucket", "held")
    sdk.create_bucket("busy-bucket")
    sdk.create_bucket("busy-bucket", "IA")
    assert errors(sdk, lambda: sdk.create_bucket("busy-bucket", "Archive"))[:2] == (409, "BucketAlreadyExists")
    assert sdk.list("busy-bucket", 2, 100) == (["held"], [])
    assert errors(sdk, lambda: sdk.delete_bucket("busy-bucket")) == (409, "BucketNotEmpty", "0015-00000301")
    assert errors(sdk, lambda: sdk.put_in("no-such-bucket", "k")) == (404, "NoSuchBucket", "0015-00000101")


@pytest.mark.parametrize("version", [1, 2])
def test_pages_of_one_list_every_key_once_even_those_needing_encoding(sdk, version):
    keys = sorted(ODD_KEYS + ["dir/a", "dir/b", "dir/sub/c", "plain"])
    fill(sdk, "odd-keys", keys)
    assert sdk.list("odd-keys", version, 1) == (keys, [])
    top = [k for k in keys if "/" not in k]
    assert sdk.list("odd-keys", version, 1, delimiter="/") == (top, ["dir/", "ünï/"])
    assert sdk.list("odd-keys", version, 1, prefix="dir/", delimiter="/") == (["dir/a", "dir/b"], ["dir/sub/"])
    assert sdk.list("odd-keys", version, 1000, prefix="with ") == (["with space"], [])
    assert sdk.list("odd-keys", version, 2, prefix="plus+") == (["plus+sign"], [])


@pytest.mark.parametrize("version", [1, 2])
def test_pages_of_a_thousand_take_two_requests_for_1005_keys(sdk, server, version):
    keys = sorted(f"many/{i:04}" for i in range(1005))
    fill(sdk, "many-keys", keys)
    counted = requests_counted(server, "list-objects")
    assert sdk.list("many-keys", version, 1000) == (keys, [])
    assert requests_counted(server, "list-objects") - counted == 2


def test_each_object_is_listed_once_as_its_null_version_and_no_upload_is_listed(sdk):
    fill(sdk, "versions-bucket", ["a", "b b", "c/d"])
    assert sdk.versions("versions-bucket") == [("a", "null", True), ("b b", "null", True), ("c/d", "null", True)]
    assert sdk.uploads("versions-bucket") == []


@pytest.mark.parametrize("name,quiet", [(name, quiet) for name in SDKS for quiet in (False, True)
                                        # oss2's batch_delete_objects is verbose only.
                                        if not (quiet and name.startswith("oss2"))])
def test_a_batch_delete_deletes_the_keys_named_and_only_those(server, name, quiet):
    sdk = SDKS[name](server)
    fill(sdk, "batch-bucket", ODD_KEYS + ["kept"])
    deleted = sdk.batch_delete("batch-bucket", ODD_KEYS + ["never-there"], quiet)
    assert deleted == ([] if quiet else ODD_KEYS + ["never-there"])
    assert sdk.list("batch-bucket", 2, 100) == (["kept"], [])


def test_deleting_the_null_version_deletes_the_object(sdk):
    fill(sdk, "null-bucket", ["one", "two", "three"])
    sdk.delete_null_version("null-bucket", "one")
    assert sdk.delete_null_versions("null-bucket", ["two", "three"]) == [("two", "null"), ("three", "null")]
    assert sdk.list("null-bucket", 1, 100) == ([], [])


def test_the_official_suites_cleanup_empties_and_deletes_each_test_bucket(sdk):
    """As their cleanups do: list the test buckets by prefix; in each, list the objects and
    delete them in batches, list the uploads and the versions left and delete those, then
    delete the bucket."""
    for i in range(2):
        fill(sdk, f"suite-bucket-{i}", [f"obj-{j}" for j in range(5)] + ODD_KEYS)
    for bucket in sdk.bucket_names("suite-bucket-", 1):
        keys, _ = sdk.list(bucket, 1, 3)
        for start in range(0, len(keys), 4):
            sdk.batch_delete(bucket, keys[start:start + 4], False)
        assert sdk.uploads(bucket) == []
        for key, version, _ in sdk.versions(bucket):
            sdk.delete_null_version(bucket, key)
        sdk.delete_bucket(bucket)
    assert sdk.bucket_names("suite-bucket-", 100) == []


@pytest.mark.parametrize("version", ["v1", "v4"])
def test_virtual_hosted_requests_reach_the_service_and_the_bucket(server, version):
    """`Host: <bucket>.<endpoint>` names the bucket; the `oss-*` endpoint itself is the service."""
    sdk = V2(server, version, virtual_hosted=True)
    fill(sdk, "hosted-bucket", ["a/1", "b"])
    assert sdk.bucket_names("hosted-", 1) == ["hosted-bucket"]
    assert sdk.list("hosted-bucket", 2, 1, delimiter="/") == (["b"], ["a/"])
    assert sdk.batch_delete("hosted-bucket", ["a/1", "b"], False) == ["a/1", "b"]
    sdk.delete_bucket("hosted-bucket")
    assert sdk.bucket_names("hosted-", 1) == []

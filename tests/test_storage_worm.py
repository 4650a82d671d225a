"""`station storage init` and `station storage verify-worm` against SeaweedFS: a bucket made
with object lock passes every check; one made without it fails them, named; init refuses to
pretend such a bucket can be fixed; and the local store is never called WORM."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from station.cli import app as station_cli
from tests.fixtures_s3 import SeaweedFS


def storage(command: str, store_url: str) -> Any:
    return CliRunner().invoke(station_cli, ["storage", command],
                              env={"STATION_STORAGE_URL": store_url, "COLUMNS": "200"})  # fmt: skip


def test_init_makes_a_locked_bucket_that_proves_write_once(s3_store_url: str) -> None:
    made = storage("init", s3_store_url)
    assert made.exit_code == 0, made.output
    assert "made bucket" in made.output and "governance, 183 days" in made.output
    again = storage("init", s3_store_url)
    assert again.exit_code == 0 and "found bucket" in again.output

    proved = storage("verify-worm", s3_store_url)
    assert proved.exit_code == 0, proved.output
    for line in ("通过  探针对象已锁定", "通过  删除已锁定对象被拒绝", "通过  缩短保留期被拒绝",
                 "通过  覆盖写入不改变已锁定的内容", "通过  校验和不符的写入被拒绝",
                 "通过  按范围读取字节准确"):  # fmt: skip
        assert line in proved.output, proved.output
    # This identity may bypass governance: the probe does not stay behind.
    assert "removed worm-check/" in proved.output


def test_a_bucket_without_object_lock_fails_the_proof_and_init_says_why(
    seaweedfs: SeaweedFS, s3_store_url: str
) -> None:
    bucket = s3_store_url.split("/")[3].split("?")[0]
    seaweedfs.raw_client().make_bucket(bucket)  # no object lock
    refused = storage("init", s3_store_url)
    assert refused.exit_code == 2 and "exists without object lock" in refused.output

    proved = storage("verify-worm", s3_store_url)
    assert proved.exit_code == 1, proved.output
    assert "失败  探针对象已锁定" in proved.output
    assert "失败  删除已锁定对象被拒绝" in proved.output
    assert "项未通过" in proved.output


def test_the_local_store_is_not_called_write_once(tmp_path: Any) -> None:
    url = (tmp_path / "objects").as_uri()
    assert storage("init", url).exit_code == 0
    refused = storage("verify-worm", url)
    assert refused.exit_code == 2 and "不是一次写入存储" in refused.output

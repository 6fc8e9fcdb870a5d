"""Uploads a file to userhub with the unmodified tuspy client, as a user's script would.

Usage: tus_upload.py <uploads url> <api key> <file> <chunk bytes>; prints the upload's URL.
"""
import os
import sys

from tusclient import client


def main() -> None:
    url, key, path, chunk = sys.argv[1:5]
    tus = client.TusClient(url, headers={"Authorization": f"Bearer {key}"})
    uploader = tus.uploader(
        path,
        chunk_size=int(chunk),
        metadata={"filename": os.path.basename(path), "content_type": "application/x-ndjson"},
    )
    uploader.upload()
    print(uploader.url)


if __name__ == "__main__":
    main()

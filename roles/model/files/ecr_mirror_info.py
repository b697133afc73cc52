# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print, as JSON, an ECR login for the mirror step and whether the tag is already there.

Why a script: neither amazon.aws nor community.aws has a module for ECR
authorization tokens or image look-ups, and the aws CLI is not a requirement
of this collection. Reads credentials and region the boto3 way.

usage: ecr_mirror_info.py REGION REPOSITORY TAG
"""

import base64
import json
import sys

import boto3
from botocore.exceptions import BotoCoreError, ClientError


def main(region, repository, tag):
    ecr = boto3.client("ecr", region_name=region)
    try:
        token = ecr.get_authorization_token()["authorizationData"][0]
        user, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
        try:
            ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
            exists = True
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("ImageNotFoundException",):
                raise
            exists = False
    except (BotoCoreError, ClientError) as exc:
        print(json.dumps({"error": str(exc)}))
        return 1
    registry = token["proxyEndpoint"].replace("https://", "")
    print(json.dumps({"registry": registry, "user": user, "password": password, "tag_exists": exists}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))

# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS calls and their errors: the one place the collection's AWS logic turns a botocore error into its own.

Retries are amazon.aws's: each module builds its client with
``module.client(service, retry_decorator=AWSRetry.jittered_backoff())``, and every call here opts in with
``aws_retry=True``. Errors are one type, ``GpuE2eAWSError`` (an amazon.aws ``AnsibleAWSError``), which each
module's logic subclasses and each module's ``main()`` catches once with ``module.fail_json_aws_error``.
"Does not exist" answers are recognised by error code with amazon.aws's ``is_boto3_error_code``.
"""
from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

try:
    import botocore
except ImportError:
    botocore = None  # the module reports the missing library


class GpuE2eAWSError(AnsibleAWSError):
    """The one error type of the collection's AWS logic; each module's error type derives from it."""


def aws_call(error, what, method, missing=None, default=None, **kwargs):
    """``method(aws_retry=True, **kwargs)``; a botocore error raises ``error`` with "Failed to <what>".

    ``missing`` names the error code (or codes) that mean "it does not exist": those return ``default``.
    """
    try:
        return method(aws_retry=True, **kwargs)
    except botocore.exceptions.ClientError as exc:
        if missing and isinstance(exc, is_boto3_error_code(missing, exc)):
            return default
        raise error(message=f"Failed to {what}", exception=exc) from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise error(message=f"Failed to {what}", exception=exc) from exc

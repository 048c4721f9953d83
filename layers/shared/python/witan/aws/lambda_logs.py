"""Structured logs for the domain's own loggers inside Lambda."""

from __future__ import annotations

import logging
import os

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers


def share_with_domain_loggers(logger: Logger) -> None:
    """In Lambda, the domain's stdlib loggers ("witan.*") get the handler's structured JSON output. Not done
    elsewhere: it stops "witan" propagating, which would hide its records from test log capture."""
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):  # the Lambda runtime, not configuration
        logging.getLogger("witan")
        copy_config_to_registered_loggers(source_logger=logger, include={"witan"})

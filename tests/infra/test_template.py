"""infra/template.yaml: cfn-lint clean, Glue columns equal the Parquet schemas, least privilege, and the wiring
the README promises (schedule, alarms, settings, named queries, samconfig)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from usage_lake.app.jobs import parse_event
from usage_lake.lake.schema import TABLES, athena_columns
from usage_lake.lake.views import fill

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
QUERIES = ROOT / "infra" / "queries"

# Actions that may use Resource "*": they have no resource-level permissions and touch no data.
STAR_ALLOWED = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                "xray:GetSamplingTargets", "cloudwatch:PutMetricData"}
EXPECTED_ENV = {
    "LAKE_BUCKET", "LAKE_PREFIX", "ADMIN_KEY_SECRET_ID", "USAGE_BUCKET_WIDTH", "USAGE_LOOKBACK_DAYS",
    "COST_LOOKBACK_DAYS", "ALERT_TOPIC_ARN", "DAILY_SPEND_THRESHOLD_USD", "MONTHLY_BUDGET_USD", "SPIKE_RATIO",
    "PRICING_OVERRIDES", "LABELS", "ANTHROPIC_AGENT_MAP_JSON", "BUDGETS", "WEEKLY_DIGEST", "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL",
}


# -- a YAML loader that keeps CloudFormation's short-form tags as their long-form dicts ------------

class CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _tag)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=CfnLoader)  # noqa: S506 - a SafeLoader subclass


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load()


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def function(template: dict) -> dict:
    (fn,) = resources(template, "AWS::Serverless::Function").values()
    return fn


# -- lint -------------------------------------------------------------------------------------------

def test_cfn_lint_is_clean():
    result = subprocess.run([sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())",
                             str(TEMPLATE)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, f"cfn-lint found problems:\n{result.stdout}{result.stderr}"


# -- Glue tables --------------------------------------------------------------------------------------

@pytest.mark.parametrize("table", sorted(TABLES))
def test_glue_columns_are_the_parquet_schema(template, table):
    glue = {r["Properties"]["TableInput"]["Name"]: r["Properties"]["TableInput"]
            for r in resources(template, "AWS::Glue::Table").values() if r["Properties"]["TableInput"]["TableType"] == "EXTERNAL_TABLE"}
    assert set(glue) == set(TABLES)
    table_input = glue[table]
    columns = [(c["Name"], c["Type"]) for c in table_input["StorageDescriptor"]["Columns"]]
    assert columns == athena_columns(table), (
        f"the Glue columns of {table} differ from usage_lake.schema: run `make template` (python infra/sync_template.py)")
    assert table_input["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert "dt" not in dict(columns)


@pytest.mark.parametrize("table", sorted(TABLES))
def test_partition_projection_needs_no_crawler(template, table):
    (table_input,) = [r["Properties"]["TableInput"] for r in resources(template, "AWS::Glue::Table").values()
                      if r["Properties"]["TableInput"]["Name"] == table]
    params = table_input["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.dt.type"] == "date"
    assert params["projection.dt.format"] == "yyyy-MM-dd"
    assert params["projection.dt.range"] == {"Fn::Sub": "${ProjectionStartDate},NOW"}
    assert params["projection.dt.interval"] == "1"
    assert params["projection.dt.interval.unit"] == "DAYS"
    # the lake layout (usage_lake.layout.partition_key): <prefix>/<table>/dt=YYYY-MM-DD/<file>.parquet
    assert params["storage.location.template"] == {"Fn::Sub": f"s3://${{LakeBucket}}/${{LakePrefix}}/{table}/dt=${{!dt}}/"}
    storage = table_input["StorageDescriptor"]
    assert storage["Location"] == {"Fn::Sub": f"s3://${{LakeBucket}}/${{LakePrefix}}/{table}/"}
    assert storage["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert template["Parameters"]["ProjectionStartDate"]["Default"] <= "2024-01-01"


def test_layout_matches_the_projection_template():
    from datetime import date

    from usage_lake.lake.layout import partition_key, run_log_key

    for table in ("usage_messages", "cost_report"):
        assert partition_key(table, date(2026, 11, 23)).startswith(f"{table}/dt=2026-11-23/")
    from datetime import UTC, datetime

    assert run_log_key("r1", datetime(2026, 11, 23, tzinfo=UTC)).startswith("runs/dt=2026-11-23/")


# -- least privilege ------------------------------------------------------------------------------

def _statements(document: Any) -> list[dict]:
    """Every statement of a policy document, both branches of any Fn::If, AWS::NoValue dropped."""
    found: list[dict] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if "Fn::If" in node:
                for branch in node["Fn::If"][1:]:
                    walk(branch)
            elif node == {"Ref": "AWS::NoValue"}:
                return
            else:
                found.append(node)

    walk(document.get("Statement", []))
    return found


def policy_documents(template: dict) -> list[tuple[str, str, dict]]:
    """(resource, kind, document) for every policy the template defines."""
    docs = []
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::IAM::Role":
            docs += [(name, "identity", p["PolicyDocument"]) for p in props.get("Policies", [])]
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            docs.append((name, "identity", props["PolicyDocument"]))
        elif kind in ("AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy"):
            docs.append((name, "resource", props["PolicyDocument"]))
        elif kind == "AWS::KMS::Key":
            docs.append((name, "key", props["KeyPolicy"]))
        elif kind == "AWS::Serverless::Function":
            for policy in props.get("Policies", []) or []:
                if isinstance(policy, dict) and "Statement" in policy:
                    docs.append((name, "identity", policy))
                else:
                    pytest.fail(f"{name} uses a SAM policy template or managed policy {policy!r}: list statements")
    return docs


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def test_no_statement_grants_data_actions_on_every_resource(template):
    documents = policy_documents(template)
    assert {kind for _, kind, _ in documents} >= {"identity", "resource", "key"}
    for name, kind, document in documents:
        for statement in _statements(document):
            if statement["Effect"] != "Allow":
                continue
            actions = set(_as_list(statement["Action"]))
            assert not any(a == "*" or a.endswith(":*") for a in actions) or kind == "key", (name, statement)
            if kind == "key":
                # in a key policy "*" means this key; who may use it is what matters
                principal = statement["Principal"]
                # the lake's key: the function's role and the named readers use it, no one gets kms:*
                lake_user = name == "LakeKey" and principal in ({"AWS": {"Fn::GetAtt": ["IngestFunctionRole", "Arn"]}},
                                                                {"AWS": {"Ref": "LakeKeyReaders"}}) \
                    and not any(a.endswith("*") and not a.startswith("kms:GenerateDataKey") for a in actions)
                assert principal == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}} \
                    or ("Service" in principal and "Condition" in statement) or lake_user, (name, statement)
                continue
            if "*" in _as_list(statement.get("Resource", [])):
                assert actions <= STAR_ALLOWED, f"{name}: {sorted(actions - STAR_ALLOWED)} on Resource '*'"
            if kind == "resource":
                assert statement["Principal"] != "*" and "Condition" in statement, (name, statement)


def test_the_function_role_reaches_only_its_bucket_secret_topic_and_itself(template):
    fn = function(template)
    assert fn["Properties"]["Role"] == {"Fn::GetAtt": ["IngestFunctionRole", "Arn"]}
    (document,) = [d for name, _, d in policy_documents(template) if name == "IngestFunctionRole"]
    by_action: dict[str, list] = {}
    for statement in _statements(document):
        for action in _as_list(statement["Action"]):
            by_action.setdefault(action, []).extend(_as_list(statement["Resource"]))
    assert by_action["s3:PutObject"] == [{"Fn::Sub": "${LakeBucket.Arn}/${LakePrefix}/*"}]
    assert by_action["s3:ListBucket"] == [{"Fn::GetAtt": ["LakeBucket", "Arn"]}]
    assert {"Fn::Sub": "${LakeBucket.Arn}/${LakePrefix}/*"} in by_action["s3:GetObject"]
    assert all("Fn::If" in r for r in by_action["secretsmanager:GetSecretValue"])
    assert by_action["sns:Publish"] == [{"Ref": "AlertTopic"}]
    assert "s3:DeleteObject" not in by_action and "iam:PassRole" not in by_action
    # lambda:InvokeFunction on this function only (its name and qualified versions), built with !Sub: no cycle
    name = fn["Properties"]["FunctionName"]
    assert name == {"Fn::Sub": "${AWS::StackName}-ingest"}
    invoke = [r["Fn::Sub"] for r in by_action["lambda:InvokeFunction"]]
    assert invoke == ["arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-ingest",
                      "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-ingest:*"]
    # the pricing overrides, the label map and the budgets file, each only when it is an s3:// URI (issue 11 added the budgets)
    objects = {s["Fn::If"][0]: s["Fn::If"][1] for s in document["Statement"] if isinstance(s, dict) and "Fn::If" in s}
    assert set(objects) == {"PricingOverridesInS3", "LabelsInS3", "BudgetsInS3"}
    assert all(statement["Action"] == "s3:GetObject" for statement in objects.values())
    assert objects["BudgetsInS3"]["Resource"]["Fn::Sub"][1]["Location"] == {
        "Fn::Select": [1, {"Fn::Split": ["s3://", {"Fn::Sub": "${Budgets}s3://"}]}]}
    assert objects["LabelsInS3"]["Action"] == "s3:GetObject"


def test_pricing_overrides_condition_and_arn_expressions():
    """Evaluate the template's Fn::Split/Fn::Select tricks the way CloudFormation does."""
    def starts_with_s3(value: str) -> bool:  # PricingOverridesInS3
        return (value + "#").split("s3://")[0] == ""

    def object_path(value: str) -> str:  # the Resource of ReadThePricingOverrides
        return (value + "s3://").split("s3://")[1]

    assert starts_with_s3("s3://my-bucket/prices/overrides.json")
    assert object_path("s3://my-bucket/prices/overrides.json") == "my-bucket/prices/overrides.json"
    assert not starts_with_s3("") and not starts_with_s3("/var/task/prices.json")
    assert object_path("") == "" and object_path("/var/task/prices.json") == ""
    template = TEMPLATE.read_text()
    assert '!Split ["s3://", !Sub "${PricingOverrides}#"]' in template
    assert '!Split ["s3://", !Sub "${PricingOverrides}s3://"]' in template
    assert '!Split ["s3://", !Sub "${Labels}#"]' in template and '!Split ["s3://", !Sub "${Labels}s3://"]' in template
    assert '!Split ["s3://", !Sub "${Budgets}#"]' in template and '!Split ["s3://", !Sub "${Budgets}s3://"]' in template


# -- the function -----------------------------------------------------------------------------------

def test_function_runtime_memory_timeout_concurrency(template):
    fn = function(template)
    props = fn["Properties"]
    assert fn["Metadata"] == {"BuildMethod": "makefile"}
    assert props["Handler"] == "handlers.ingest.handler"
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["x86_64"]
    assert props["Timeout"] == 900
    assert props["ReservedConcurrentExecutions"] == 1
    assert props["MemorySize"] == {"Ref": "MemorySize"}
    assert template["Parameters"]["MemorySize"]["Default"] == 1024
    assert props["CodeUri"] == ".."  # the repository root, where the Makefile is
    async_config = props["EventInvokeConfig"]
    assert async_config["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["FailedRunsQueue", "Arn"]}


def test_environment_is_the_settings_contract(template):
    env = function(template)["Properties"]["Environment"]["Variables"]
    assert EXPECTED_ENV <= set(env)
    assert env["POWERTOOLS_SERVICE_NAME"] == {"Ref": "AWS::StackName"}  # one metrics dimension per stack
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "AnthropicUsageLake"
    # every variable the template sets is one the code reads (a typo would silently do nothing)
    source = "\n".join(p.read_text() for p in (ROOT / "src").rglob("*.py"))
    unread = [name for name in env if not name.startswith(("POWERTOOLS_", "LOG_LEVEL")) and f'"{name}"' not in source]
    assert unread == []
    # optional settings default to empty, which the code treats as unset ("off")
    for name, parameter in (("DAILY_SPEND_THRESHOLD_USD", "DailySpendThresholdUsd"), ("MONTHLY_BUDGET_USD", "MonthlyBudgetUsd"),
                            ("SPIKE_RATIO", "SpikeRatio"), ("PRICING_OVERRIDES", "PricingOverrides"), ("BUDGETS", "Budgets")):
        assert env[name] == {"Ref": parameter}
        assert template["Parameters"][parameter]["Default"] == ""
    assert env["WEEKLY_DIGEST"] == {"Ref": "WeeklyDigest"} and template["Parameters"]["WeeklyDigest"]["Default"] == "false"


def test_parameter_defaults_are_valid_settings(template, monkeypatch):
    from usage_lake.config.settings import Settings

    params = template["Parameters"]
    env = {
        "LAKE_BUCKET": "usage-lake-bucket", "LAKE_PREFIX": params["LakePrefix"]["Default"],
        "ADMIN_KEY_SECRET_ID": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf",
        "USAGE_BUCKET_WIDTH": params["UsageBucketWidth"]["Default"],
        "USAGE_LOOKBACK_DAYS": params["UsageLookbackDays"]["Default"],
        "COST_LOOKBACK_DAYS": params["CostLookbackDays"]["Default"],
        "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:anthropic-usage-lake-AlertTopic-1",
        "DAILY_SPEND_THRESHOLD_USD": "", "MONTHLY_BUDGET_USD": "", "SPIKE_RATIO": "", "PRICING_OVERRIDES": "",
        "BUDGETS": "", "WEEKLY_DIGEST": params["WeeklyDigest"]["Default"],
    }
    settings = Settings.from_env(env, lambda_runtime=True)
    assert (settings.lake_prefix, settings.usage_bucket_width, settings.usage_lookback_days) == ("anthropic/", "1h", 3)
    assert settings.daily_spend_threshold_usd is None
    # values the parameters' AllowedPattern admits are accepted by the code too
    for name, parameter, value in (("DAILY_SPEND_THRESHOLD_USD", "DailySpendThresholdUsd", "250.50"),
                                   ("MONTHLY_BUDGET_USD", "MonthlyBudgetUsd", "5000"),
                                   ("SPIKE_RATIO", "SpikeRatio", "3.5"),
                                   ("PRICING_OVERRIDES", "PricingOverrides", "s3://my-bucket/prices.json"),
                                   ("LABELS", "Labels", "s3://my-bucket/labels.json"),
                                   ("ANTHROPIC_AGENT_MAP_JSON", "AgentMapJson", '{"apikey_01Rj2N8SVvo6BePZj99NhmiT": "opus-main"}'),
                                   ("BUDGETS", "Budgets", "s3://my-bucket/config/budgets.json")):
        assert re.fullmatch(params[parameter]["AllowedPattern"], value)
        Settings.from_env(env | {name: value}, lambda_runtime=True)
    for value in params["WeeklyDigest"]["AllowedValues"]:
        assert Settings.from_env(env | {"WEEKLY_DIGEST": value}, lambda_runtime=True).weekly_digest == (value == "true")


def test_one_more_email_subscription_filters_on_the_budget_attribute(template):
    """Issue 11: BudgetAlertEmail receives only the budgets BudgetAlertFilterBudget names (SNS filter policy)."""
    subscription = template["Resources"]["BudgetAlertEmailSubscription"]
    assert subscription["Condition"] == "HasBudgetAlertEmail"
    props = subscription["Properties"]
    assert (props["TopicArn"], props["Protocol"], props["Endpoint"]) == ({"Ref": "AlertTopic"}, "email", {"Ref": "BudgetAlertEmail"})
    assert props["FilterPolicyScope"] == "MessageAttributes"
    assert props["FilterPolicy"] == {"budget": {"Fn::Split": [",", {"Ref": "BudgetAlertFilterBudget"}]}}
    names = template["Parameters"]["BudgetAlertFilterBudget"]["AllowedPattern"]
    assert re.fullmatch(names, "growth-daily,growth-monthly") and not re.fullmatch(names, "growth daily")
    assert template["Conditions"]["HasBudgetAlertEmail"] == {"Fn::And": [
        {"Fn::Not": [{"Fn::Equals": [{"Ref": "BudgetAlertEmail"}, ""]}]},
        {"Fn::Not": [{"Fn::Equals": [{"Ref": "BudgetAlertFilterBudget"}, ""]}]}]}


@pytest.mark.parametrize("parameter", ["UsageLookbackDays", "CostLookbackDays"])
def test_item08_lookback_parameters_admit_1_to_31_days(template, parameter):
    pattern = template["Parameters"][parameter]["AllowedPattern"]
    assert [str(n) for n in range(0, 40) if re.fullmatch(pattern, str(n))] == [str(n) for n in range(1, 32)]
    assert not re.fullmatch(pattern, "00") and not re.fullmatch(pattern, "")
    assert "(1-31)" in template["Parameters"][parameter]["Description"]


def test_item14_the_lake_prefix_parameter_refuses_what_the_code_refuses(template):
    from usage_lake.config.settings import Settings, SettingsError

    pattern = template["Parameters"]["LakePrefix"]["AllowedPattern"]
    for good in ("anthropic", "team/anthropic", "a.b/c-d_e", "..a/b..", "x/.hidden"):
        assert re.fullmatch(pattern, good), good
        Settings.from_env({"LAKE_PREFIX": good})
    for bad in ("../../etc", "..", ".", "a/../b", "a/./b", "a/..", "a//b", "/a", "a/", "a\tb"):
        assert not re.fullmatch(pattern, bad), bad
    for bad in ("../../etc", "a/../b", "a/./b", "a//b", "a\tb"):
        with pytest.raises(SettingsError, match="LAKE_PREFIX"):
            Settings.from_env({"LAKE_PREFIX": bad})


def test_hourly_schedule_sends_an_incremental_run(template):
    (event,) = function(template)["Properties"]["Events"].values()
    assert event["Type"] == "ScheduleV2"
    props = event["Properties"]
    assert template["Parameters"]["ScheduleExpression"]["Default"] == "cron(15 * * * ? *)"
    assert props["ScheduleExpression"] == {"Ref": "ScheduleExpression"}
    assert parse_event(json.loads(props["Input"])).mode == "incremental"
    assert props["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert props["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["FailedRunsQueue", "Arn"]}}
    queue = template["Resources"]["FailedRunsQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True


def test_placeholder_secret_is_refused_with_instructions(template):
    from usage_lake.config.secrets import SecretError, admin_key_from_text

    secret = template["Resources"]["AdminKeySecret"]
    assert secret["Condition"] == "CreateSecret"
    with pytest.raises(SecretError, match="put-secret-value"):
        admin_key_from_text(secret["Properties"]["SecretString"], source="secret 'x'")


# -- storage, topic, alarms, Athena ---------------------------------------------------------------------

def test_the_lake_is_listed_only_under_its_prefix(template):
    (document,) = [d for name, _, d in policy_documents(template) if name == "IngestFunctionRole"]
    (listing,) = [s for s in _statements(document) if s.get("Sid") == "ListTheLake"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [{"Ref": "LakePrefix"}, {"Fn::Sub": "${LakePrefix}/*"}]}}


def test_the_lake_key_is_used_only_by_the_function_and_named_readers(template):
    key = template["Resources"]["LakeKey"]
    assert key["Condition"] == "UseLakeKmsKey" and key["DeletionPolicy"] == "Retain"
    statements = {s["Sid"]: s for s in _statements(key["Properties"]["KeyPolicy"])}
    assert not {"kms:Decrypt", "kms:*"} & set(statements["AccountAdministersTheKeyButCannotUseIt"]["Action"])
    assert statements["NamedReadersReadTheLake"]["Action"] == ["kms:Decrypt", "kms:DescribeKey"]
    use = template["Resources"]["LakeKeyUse"]
    assert use["Condition"] == "UseLakeKmsKey" and use["Properties"]["Roles"] == [{"Ref": "IngestFunctionRole"}]
    assert function(template)["Properties"]["Environment"]["Variables"]["PERSONAL_DATA"] == {"Ref": "PersonalData"}
    assert template["Parameters"]["PersonalData"]["AllowedValues"] == ["keep", "hash", "drop"]


def test_lake_bucket_is_private_encrypted_versioned_with_lifecycle(template):
    bucket = template["Resources"]["LakeBucket"]
    assert bucket["DeletionPolicy"] == "Retain"
    props = bucket["Properties"]
    (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    condition, kms, s3 = encryption["Fn::If"]  # SSE-KMS with the lake's own key, or SSE-S3
    assert condition == "UseLakeKmsKey" and s3 == {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    assert kms["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms" and kms["BucketKeyEnabled"] is True
    assert kms["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {
        "Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:alias/${AWS::StackName}-lake"}
    assert template["Resources"]["LakeKeyAlias"]["Properties"]["AliasName"] == {"Fn::Sub": "alias/${AWS::StackName}-lake"}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(props["PublicAccessBlockConfiguration"].values()) and len(props["PublicAccessBlockConfiguration"]) == 4
    rules = {r["Id"]: r for r in _statements({"Statement": props["LifecycleConfiguration"]["Rules"]})}
    assert rules["expire-lake-objects"] == {"Id": "expire-lake-objects", "Status": "Enabled", "Prefix": {"Fn::Sub": "${LakePrefix}/"},
                                            "ExpirationInDays": {"Ref": "LakeExpirationDays"}}
    assert template["Conditions"]["ExpireLakeObjects"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "LakeExpirationDays"}, 0]}]}
    raw = rules["raw-pages-to-cheaper-storage"]
    assert raw["Prefix"] == {"Fn::Sub": "${LakePrefix}/raw/"}
    assert raw["Transitions"] == [{"StorageClass": {"Ref": "RawStorageClass"}, "TransitionInDays": {"Ref": "RawTransitionDays"}}]
    assert rules["expire-previous-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": {"Ref": "NoncurrentVersionExpirationDays"}}
    for policy_name, bucket_name in (("LakeBucketPolicy", "LakeBucket"), ("AthenaResultsBucketPolicy", "AthenaResultsBucket")):
        (deny,) = template["Resources"][policy_name]["Properties"]["PolicyDocument"]["Statement"]
        assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert {"Fn::GetAtt": [bucket_name, "Arn"]} in deny["Resource"]
    results = template["Resources"]["AthenaResultsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert results[0]["ExpirationInDays"] == {"Ref": "AthenaResultsExpirationDays"}


def test_topic_is_encrypted_with_a_key_cloudwatch_may_use(template):
    topic = template["Resources"]["AlertTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlertTopicKey"}
    statements = template["Resources"]["AlertTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert any(s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} for s in statements)
    subscription = template["Resources"]["AlertEmailSubscription"]
    assert subscription["Condition"] == "HasAlertEmail"
    assert subscription["Properties"]["Protocol"] == "email"


def test_alarms(template):
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    by_metric = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"] for a in alarms.values()}
    assert set(by_metric) == {("AWS/Lambda", "Errors"), ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
                              ("AnthropicUsageLake", "RunSucceeded"), ("AnthropicUsageLake", "AlertsFailed")}
    for props in by_metric.values():
        assert props["AlarmActions"] == [{"Ref": "AlertTopic"}]
        period, periods = props["Period"], props["EvaluationPeriods"]
        # CloudWatch: Period x EvaluationPeriods <= 7 days, or <= 1 day when the period is under an hour
        assert period * periods <= (604_800 if period >= 3600 else 86_400)
    stale = by_metric[("AnthropicUsageLake", "RunSucceeded")]
    assert stale["Period"] * stale["EvaluationPeriods"] == 26 * 3600
    assert stale["DatapointsToAlarm"] == stale["EvaluationPeriods"]
    assert stale["TreatMissingData"] == "breaching"
    assert (stale["ComparisonOperator"], stale["Threshold"], stale["Statistic"]) == ("LessThanThreshold", 1, "Sum")
    # the alarm watches this stack's own metrics: the service dimension is the stack name, as the function's env says
    assert stale["Dimensions"] == [{"Name": "service", "Value": {"Ref": "AWS::StackName"}}]
    handler = (ROOT / "src" / "handlers" / "ingest.py").read_text()
    assert 'name="RunSucceeded"' in handler  # the metric the alarm watches is the one the handler emits
    # alerts that failed, or a BUDGETS/LABELS file the run could not use (issue 16): any in an hour
    failed = by_metric[("AnthropicUsageLake", "AlertsFailed")]
    assert (failed["ComparisonOperator"], failed["Threshold"], failed["Statistic"]) == ("GreaterThanOrEqualToThreshold", 1, "Sum")
    assert failed["Dimensions"] == stale["Dimensions"] and failed["TreatMissingData"] == "notBreaching"
    assert 'name="AlertsFailed"' in handler


def test_athena_workgroup_enforces_its_configuration(template):
    (workgroup,) = resources(template, "AWS::Athena::WorkGroup").values()
    config = workgroup["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == {"Ref": "AthenaBytesScannedCutoffPerQuery"}
    assert config["EngineVersion"]["SelectedEngineVersion"] == "Athena engine version 3"
    assert config["ResultConfiguration"]["OutputLocation"] == {"Fn::Sub": "s3://${AthenaResultsBucket}/results/"}


def test_named_queries_are_the_sql_files(template):
    check = subprocess.run([sys.executable, str(ROOT / "infra" / "sync_template.py"), "--check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    queries = resources(template, "AWS::Athena::NamedQuery")
    files = sorted(QUERIES.glob("*.sql"))
    assert len(files) >= 6 and len(queries) == len(files)
    for path in files:
        props = queries["".join(p.capitalize() for p in path.stem.split("_")) + "Query"]["Properties"]
        text = path.read_text()
        query = props["QueryString"]
        assert (query["Fn::Sub"] if isinstance(query, dict) else query) == text
        assert props["Database"] == {"Ref": "GlueDatabase"} and props["WorkGroup"] == {"Ref": "AthenaWorkGroup"}
        # a ${...} in the SQL must be a parameter of the template, or !Sub fails at deploy time
        for name in re.findall(r"\$\{([^}!]+)\}", text):
            assert name in template["Parameters"], f"{path.name} uses ${{{name}}}, which is no template parameter"


def test_outputs(template):
    assert {"LakeBucketName", "AlertTopicArn", "AthenaWorkGroupName", "GlueDatabaseName", "IngestFunctionName",
            "AdminKeySecretArn"} <= set(template["Outputs"])


# -- samconfig and the SAM build target -----------------------------------------------------------------

def test_samconfig_builds_this_template_from_the_repository_root():
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    default = config["default"]
    assert default["build"]["parameters"]["template_file"] == "infra/template.yaml"
    assert "template_file" not in default["deploy"]["parameters"]  # deploy takes .aws-sam/build/template.yaml
    assert "CAPABILITY_IAM" in default["deploy"]["parameters"]["capabilities"]


def test_sam_build_target_unpacks_the_package():
    dry = subprocess.run(["make", "-n", "build-IngestFunction", "ARTIFACTS_DIR=/tmp/artifacts"], cwd=ROOT,
                         capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "infra/package.py build" in dry.stdout
    assert "dist/lambda.zip" in dry.stdout and "/tmp/artifacts" in dry.stdout


def test_the_views_are_glue_views_holding_their_sql_and_columns(template):
    """Each src/usage_lake/lake/athena_views/*.sql is a VIRTUAL_VIEW Glue table carrying the view as Athena stores one (a "Presto View")."""
    views = {r["Properties"]["TableInput"]["Name"]: r["Properties"]["TableInput"]
             for r in resources(template, "AWS::Glue::Table").values() if r["Properties"]["TableInput"]["TableType"] == "VIRTUAL_VIEW"}
    files = {path.stem: path for path in (ROOT / "src" / "usage_lake" / "lake" / "athena_views").glob("*.sql")}
    assert set(views) == set(files) == {"usage_messages_named", "cost_report_named"}
    for name, view in views.items():
        assert view["Parameters"] == {"presto_view": "true", "comment": "Presto View"}
        assert view["ViewExpandedText"] == "/* Presto View */"
        head, encoded, tail = view["ViewOriginalText"]["Fn::Join"][1]
        assert (head, tail) == ("/* Presto View: ", " */")
        definition = json.loads(encoded["Fn::Base64"]["Fn::Sub"])
        assert definition["schema"] == "${GlueDatabase}" and definition["catalog"] == "awsdatacatalog"
        assert definition["originalSql"] == fill(files[name].read_text().partition("\n")[2].strip()) + "\n"  # placeholders filled
        stored = [(c["Name"], c["Type"]) for c in view["StorageDescriptor"]["Columns"]]
        assert [c["name"] for c in definition["columns"]] == [n for n, _ in stored]
        base = name.removesuffix("_named")
        assert stored[:len(athena_columns(base))] == athena_columns(base)  # the table's columns, then dt and the names
        assert [n for n, _ in stored[len(athena_columns(base)):]][0] == "dt" and ("labels", "map<string,string>") in stored

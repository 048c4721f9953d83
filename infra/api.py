"""API: Cognito user pool, REST API and the access_api function.

Cognito-authorised routes: ANY / and ANY /{proxy+}. Without the Cognito authorizer (authorised inside
the function): GET /openapi.json (public description), ANY /collect/{proxy+} (partner capability
tokens) and GET /console, /console/{proxy+} (the council console's static files, witan.console).

The console is served by access_api from the shared layer, as the partner page is, rather than from S3
behind the API: it is then the same origin, one deployment and one set of headers (its strict CSP is
built next to the files), with no bucket, integration role or deployment custom resource; a page load
is a handful of small cached requests, each audited like every other request. Sign-in is Cognito
managed login with the authorization-code flow and PKCE: a public app client (no secret) whose
callback is the console on the API's own origin.

Binary media types: GET /collect/{token}/template.xlsx returns the workbook base64-encoded with
isBase64Encoded true; API Gateway turns it back into bytes only when the request's first Accept media
type matches binaryMediaTypes. Browsers send text/html first, or (Chromium, for a link with the
`download` attribute, as measured) no Accept at all, so the list holds */*. Every other response is
text with isBase64Encoded false, which API Gateway passes through unchanged; request bodies then reach
the function base64-encoded (isBase64Encoded true), which Powertools' json_body/decoded_body undo.
There are no MOCK integrations (OPTIONS preflights), which */* would break."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_logs as logs
from aws_cdk import aws_logs_destinations as logs_destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct
from witan import settings
from witan.api import gateway_log

from infra.collect import TABLE_READ_WRITE, grant_audit_append, grant_send_email, table_and_indexes
from infra.config import WitanConfig
from infra.lambdas import LOG_RETENTION, Layers, WitanFunction
from infra.mail import Mail
from infra.storage import Storage

STAGE_NAME = "v1"
# access_api's settings for the console's sign-in (witan.api.routes.console reads them).
CONSOLE_AUTH_URL_ENV = "CONSOLE_AUTH_URL"
CONSOLE_CLIENT_ID_ENV = "CONSOLE_CLIENT_ID"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The xlsx type names the binary response; */* is what makes browser downloads work (see above).
BINARY_MEDIA_TYPES = (XLSX_TYPE, "*/*")
THROTTLE_RATE = 50  # requests per second, steady
THROTTLE_BURST = 100
# Collect+Share reminders and digests: once a day, 07:00 UTC (before the working day in the UK).
REMINDER_SCHEDULE = {"minute": "0", "hour": "7"}
# Reminder emails carry partner links; API calls derive the base from the request, the schedule cannot:
# the rule's input carries it (functions/access_api/handler.py reads this key).
LINK_BASE_URL_KEY = "link_base_url"
# access_api's rights on the data bucket, per prefix and action (least privilege: issue 15, item 7).
# datasets/: presigned POST of new versions, presigned GET of downloads, versions read for datapacks.
# reports/: presigned GET of check reports and report.json read for the partner page (never written).
# models/: presigned GET of run outputs, a run's plan and outputs read for datapacks (never written).
# uploads/: presigned POST by partners only (never read through the API). curated/: nothing.
PRESIGN_GRANTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("DatasetFiles", ("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"), settings.DATASETS_PREFIX),
    ("ReadReports", ("s3:GetObject",), settings.REPORTS_PREFIX),
    ("ReadModelOutputs", ("s3:GetObject", "s3:GetObjectVersion"), settings.MODELS_PREFIX),
    ("PresignUploads", ("s3:PutObject",), settings.UPLOADS_PREFIX),
)
# Grant, request and catalog records can be revoked or replaced: full item writes on these tables.
API_TABLE_ACTIONS = (*TABLE_READ_WRITE, "dynamodb:DeleteItem")
# JSON errors for what API Gateway rejects before the function runs, in the function's error shape.
GATEWAY_ERRORS = {
    apigw.ResponseType.UNAUTHORIZED: ("unauthorized", "$context.error.messageString"),
    apigw.ResponseType.ACCESS_DENIED: ("forbidden", "$context.error.messageString"),
    apigw.ResponseType.BAD_REQUEST_PARAMETERS: ("invalid_request", "$context.error.validationErrorString"),
    apigw.ResponseType.BAD_REQUEST_BODY: ("invalid_request", "$context.error.validationErrorString"),
    apigw.ResponseType.THROTTLED: ("throttled", "$context.error.messageString"),
    apigw.ResponseType.DEFAULT_5_XX: ("gateway_error", "$context.error.messageString"),
}


class Api(Construct):
    """Cognito (pool, groups, clients, managed login), access_api and its rights, the REST API with its
    access log and routes, and the daily reminder schedule. Each part is built by a method named for it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: WitanConfig,
        storage: Storage,
        layers: Layers,
        mail: Mail,
        state_machine: sfn.StateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.user_pool = self._user_pool()
        self._groups()
        self.user_pool_client = self._web_client()
        self.user_pool_domain = self._console_domain()
        self.access_api = self._function(storage, layers, mail, state_machine)
        self._grant_function(storage, mail, state_machine)
        self.access_log_group = self._access_log_group()
        self.rest_api = self._rest_api()
        self.refusals_subscription = self._refusals_subscription()
        # RestApi adds its own Endpoint output; the stack's outputs are the contract's list (ApiUrl).
        self.rest_api.node.try_remove_child("Endpoint")
        self.origin = self._origin()
        self._allow_browser_origin(storage)
        self.console_client = self._console_client()
        self._gateway_responses()
        self.validator = self._request_validator()
        self.authorizer = self._authorizer()
        self._routes()
        self.reminder_rule = self._reminder_schedule()

    # -- Cognito -------------------------------------------------------------------------------------

    def _user_pool(self) -> cognito.UserPool:
        return cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=self.config.name("users"),
            self_sign_up_enabled=False,  # accounts are created by a platform admin
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            # A changed email takes effect only once verified: until then the token keeps the original,
            # verified address (the API trusts an email claim only with email_verified).
            keep_original=cognito.KeepOriginalAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _groups(self) -> None:
        """The platform admins' group and one group per configured organisation."""
        cognito.CfnUserPoolGroup(
            self,
            "PlatformAdminGroup",
            user_pool_id=self.user_pool.user_pool_id,
            group_name=settings.ADMIN_GROUP,
            description="Witan platform administrators",
            precedence=0,
        )
        for index, group in enumerate(self.config.organisation_groups):
            cognito.CfnUserPoolGroup(
                self,
                f"OrganisationGroup{index}",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=group,
                description=f"Members of organisation {group}",
                precedence=10,
            )

    @staticmethod
    def _client_limits() -> dict[str, Any]:
        """What both app clients share: the attributes they may read and write, and token lifetimes."""
        return {
            "read_attributes": cognito.ClientAttributes().with_standard_attributes(
                email=True, email_verified=True, fullname=True
            ),
            # Users may not rewrite their own email through a client (an admin changes it): without this
            # list every standard attribute, email included, is writable with the access token.
            "write_attributes": cognito.ClientAttributes().with_standard_attributes(fullname=True),
            "prevent_user_existence_errors": True,
            "access_token_validity": Duration.hours(1),
            "id_token_validity": Duration.hours(1),
            "refresh_token_validity": Duration.days(1),
        }

    def _web_client(self) -> cognito.UserPoolClient:
        """The client of scripts and the local demo (password sign-in, no OAuth)."""
        return self.user_pool.add_client(
            "WebClient",
            user_pool_client_name=self.config.name("web"),
            generate_secret=False,
            # USER_PASSWORD_AUTH lets the local demo and scripts sign in without SRP.
            auth_flows=cognito.AuthFlow(user_password=True, user_srp=True),
            disable_o_auth=True,
            **self._client_limits(),
        )

    def _console_domain(self) -> cognito.UserPoolDomain:
        """Managed login for the console: the pool's Cognito domain, with a public client (no secret)
        for the authorization-code flow with PKCE (_console_client, once the API's origin is known).
        The domain prefix is unique per account (prefixes are global)."""
        return self.user_pool.add_domain(
            "ConsoleDomain",
            cognito_domain=cognito.CognitoDomainOptions(
                domain_prefix=f"{self.config.name('console')}-{Stack.of(self).account}"
            ),
        )

    def _console_client(self) -> cognito.UserPoolClient:
        """The console's public client, its callback the console on the API's own origin; access_api
        gets the sign-in settings the console page reads."""
        console_url = f"{self.origin}/{STAGE_NAME}/console/"
        client = self.user_pool.add_client(
            "ConsoleClient",
            user_pool_client_name=self.config.name("console"),
            generate_secret=False,  # a browser app: PKCE instead of a secret
            auth_flows=cognito.AuthFlow(user_srp=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
                callback_urls=[console_url],
                logout_urls=[console_url],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            **self._client_limits(),
        )
        function = self.access_api.function
        function.add_environment(CONSOLE_AUTH_URL_ENV, self.user_pool_domain.base_url())
        function.add_environment(CONSOLE_CLIENT_ID_ENV, client.user_pool_client_id)
        return client

    # -- the function and its rights ------------------------------------------------------------------

    def _function(
        self, storage: Storage, layers: Layers, mail: Mail, state_machine: sfn.StateMachine
    ) -> WitanFunction:
        config = self.config
        return WitanFunction(
            self,
            "AccessApi",
            config=config,
            folder="access_api",
            layers=layers,
            description="Datastore API: policy decisions, presigned URLs, audit of every request",
            memory_mb=1024,
            timeout=Duration.seconds(29),  # API Gateway's integration limit
            environment={
                settings.ENV_NAME: config.environment,
                settings.DATA_BUCKET: storage.data_bucket.bucket_name,
                settings.AUDIT_TABLE: storage.audit_table.table_name,
                settings.CATALOG_TABLE: storage.catalog_table.table_name,
                settings.GRANTS_TABLE: storage.grants_table.table_name,
                settings.REQUESTS_TABLE: storage.requests_table.table_name,
                settings.MODEL_RUNS_TABLE: storage.model_runs_table.table_name,
                settings.STATE_MACHINE_ARN: state_machine.state_machine_arn,
                settings.AUDIT_RETENTION_DAYS: str(config.audit_retention_days),
                settings.SES_SENDER: mail.sender,
                settings.SES_CONFIGURATION_SET: mail.configuration_set_name,
                settings.MAX_UPLOAD_BYTES: str(settings.DEFAULT_MAX_UPLOAD_BYTES),
                # Cognito cannot require MFA for one group: platform-admin rights need a token whose
                # amr claim says MFA (witan.api.identity); everyone else may enrol (OPTIONAL pool).
                settings.ADMIN_MFA: "required",
            },
        )

    def _grant_function(self, storage: Storage, mail: Mail, state_machine: sfn.StateMachine) -> None:
        fn = self.access_api
        tables = (
            storage.catalog_table,
            storage.grants_table,
            storage.requests_table,
            storage.model_runs_table,
        )
        fn.grant(
            "ReadWriteApiTables",
            API_TABLE_ACTIONS,
            [arn for table in tables for arn in table_and_indexes(table.table_arn)],
        )
        grant_audit_append(fn, storage)
        fn.grant(
            "ReadAuditByIndex",
            ("dynamodb:Query",),
            [f"{storage.audit_table.table_arn}/index/*"],
        )
        # GET /audit/verify (admins) re-checks every hash chain: a read-only scan of the audit table.
        fn.grant("VerifyAuditChains", ("dynamodb:Scan",), [storage.audit_table.table_arn])
        # Presigned GET/POST are signed with this role: it holds exactly what its URLs allow, per prefix
        # and action (a URL can do no more than its signer may), and what it reads itself.
        for sid, actions, prefix in PRESIGN_GRANTS:
            fn.grant(sid, actions, [storage.objects(prefix)])
        fn.grant("StartModelRuns", ("states:StartExecution",), [state_machine.state_machine_arn])
        grant_send_email(fn, mail)

    # -- the REST API, its access log and its origin --------------------------------------------------

    def _access_log_group(self) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            "AccessLogs",
            log_group_name=f"/aws/apigateway/{self.config.name('api')}/access",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _rest_api(self) -> apigw.RestApi:
        return apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=self.config.name("api"),
            description="Witan datastore and collect API",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            binary_media_types=list(BINARY_MEDIA_TYPES),
            cloud_watch_role=True,  # the account-level role API Gateway needs to write logs
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                # One JSON record per request, with the resource path (never the path: partner paths
                # hold capability tokens) and whether an integration ran (witan.api.gateway_log).
                access_log_format=apigw.AccessLogFormat.custom(gateway_log.ACCESS_LOG_FORMAT),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # bodies may hold tokens and personal data
                metrics_enabled=True,
                # No X-Ray on the stage: its segments record each request's URL, and partner paths
                # (/collect/{token}/...) hold capability tokens. Tracing is a stage setting (it cannot
                # be turned off for one path); the function keeps active tracing, whose segments hold
                # no URL (and access_api records no Tracer annotations or responses).
                tracing_enabled=False,
                throttling_rate_limit=THROTTLE_RATE,
                throttling_burst_limit=THROTTLE_BURST,
            ),
        )

    def _refusals_subscription(self) -> logs.SubscriptionFilter:
        """Requests refused before the function ran (authorizer 401, unknown route 403, throttling 429,
        validator 400) reach access_api from the access log, so that each leaves one audit event too.
        LambdaDestination adds the permission for logs.amazonaws.com, scoped to this log group."""
        return logs.SubscriptionFilter(
            self,
            "GatewayRefusals",
            log_group=self.access_log_group,
            destination=logs_destinations.LambdaDestination(self.access_api.function),
            filter_pattern=logs.FilterPattern.literal(gateway_log.REFUSED_FILTER_PATTERN),
            filter_name=self.config.name("gateway-refusals"),
        )

    def _origin(self) -> str:
        """The browser origin of pages the API serves (the partner page), built from the API id, which
        does not depend on the bucket (its methods and deployment do). Not `rest_api.url`: that would
        make what uses it depend on the deployment."""
        stack = Stack.of(self)
        return f"https://{self.rest_api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}"

    def _allow_browser_origin(self, storage: Storage) -> None:
        # The partner page posts its presigned form straight to the data bucket from the API's origin.
        storage.allow_browser_uploads(self.origin)
        # The console reads run outputs (CSV) with fetch() from their presigned GETs: a GET rule for the
        # same origin (simple requests: no preflight, no request headers, nothing exposed).
        storage.data_bucket.add_cors_rule(
            id="console-reads", allowed_methods=[s3.HttpMethods.GET], allowed_origins=[self.origin]
        )

    # -- what API Gateway answers itself, and the routes -----------------------------------------------

    def _gateway_responses(self) -> None:
        for response_type, (code, message) in GATEWAY_ERRORS.items():
            self.rest_api.add_gateway_response(
                f"Gateway{code.title().replace('_', '')}{response_type.response_type}",
                type=response_type,
                templates={"application/json": f'{{"code": "{code}", "message": {message}}}'},
            )

    def _request_validator(self) -> apigw.RequestValidator:
        return self.rest_api.add_request_validator(
            "RequestValidator",
            request_validator_name=self.config.name("api-validator"),
            validate_request_parameters=True,
            validate_request_body=True,
        )

    def _authorizer(self) -> apigw.CognitoUserPoolsAuthorizer:
        return apigw.CognitoUserPoolsAuthorizer(
            self,
            "Authorizer",
            authorizer_name=self.config.name("cognito"),
            cognito_user_pools=[self.user_pool],
            identity_source=apigw.IdentitySource.header("Authorization"),
        )

    def _routes(self) -> None:
        """Signed-in routes (ANY / and /{proxy+}, Cognito-authorised); without the authorizer: the
        public API description, the partner routes (capability tokens) and the console's files."""
        integration = apigw.LambdaIntegration(self.access_api.function, proxy=True, allow_test_invoke=False)
        signed_in: dict[str, Any] = {
            "authorizer": self.authorizer,
            "authorization_type": apigw.AuthorizationType.COGNITO,
            "request_validator": self.validator,
            "request_parameters": {"method.request.header.Authorization": True},
        }
        open_route: dict[str, Any] = {
            "authorization_type": apigw.AuthorizationType.NONE,
            "request_validator": self.validator,
        }
        root = self.rest_api.root
        self.root_method = root.add_method("ANY", integration, **signed_in)
        self.proxy_method = root.add_resource("{proxy+}").add_method("ANY", integration, **signed_in)
        self.openapi_method = root.add_resource("openapi.json").add_method("GET", integration, **open_route)
        self.collect_method = (
            root.add_resource("collect").add_resource("{proxy+}").add_method("ANY", integration, **open_route)
        )
        console = root.add_resource("console")
        self.console_methods = (
            console.add_method("GET", integration, **open_route),
            console.add_resource("{proxy+}").add_method("GET", integration, **open_route),
        )

    # -- the daily schedule ---------------------------------------------------------------------------

    def _reminder_schedule(self) -> events.Rule:
        """The daily reminder/digest run: the scheduled event's own fields (`source: aws.events`, its
        `time`, `id`) plus the link base; access_api dispatches it to run_reminders() then
        run_digests(). The requests-table writes it needs (transactions are authorised per item:
        Put/Update/Delete/ConditionCheck, and Query on gsi1) and ses:SendEmail are in
        ReadWriteApiTables and SendEmail (_grant_function)."""
        # Partner links in scheduled reminders: the stage URL, built from the API id (not `rest_api.url`,
        # which would make the target depend on the deployment). Passed in the rule's input, not as an
        # environment variable, so the function's environment stays the contract of witan/settings.py.
        link_base = f"{self.origin}/{STAGE_NAME}"
        return events.Rule(
            self,
            "CollectReminders",
            rule_name=self.config.name("collect-reminders"),
            description="Daily Collect+Share reminders to partners and digests to requesters",
            schedule=events.Schedule.cron(**REMINDER_SCHEDULE),
            targets=[
                targets.LambdaFunction(
                    self.access_api.function,
                    retry_attempts=2,
                    max_event_age=Duration.hours(6),
                    event=events.RuleTargetInput.from_object(
                        {
                            "source": events.EventField.source,
                            "detail-type": events.EventField.detail_type,
                            "id": events.EventField.event_id,
                            "time": events.EventField.time,
                            LINK_BASE_URL_KEY: link_base,
                        }
                    ),
                )
            ],
        )

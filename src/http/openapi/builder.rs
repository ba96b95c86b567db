//! How one operation is described: who may call it, what it takes and every answer it
//! gives. The error answers a route can give by construction (its extractors, the limits
//! every route has) are added here, once, rather than repeated in each description.

use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

/// Who may call an operation, as the extractors decide it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Auth {
    /// Anyone.
    Public,
    /// The user by their own session, or a service key naming them in `X-Roomkey-User`.
    User,
    /// A session, a service key naming a user, or the admin key; the rules then decide (403).
    Caller,
    /// A moderator's or an admin's session, or the admin key.
    Staff,
    /// An admin's session, or the admin key.
    Admin,
    /// A service key, or the admin key.
    Service,
    /// A Prosody shard's signed request.
    Prosody,
    /// ePayco's signed confirmation.
    Epayco,
    /// A payment provider's signed event (Standard Webhooks or Stripe-style).
    Provider,
    /// An OpenID client: `client_secret_basic`, `client_secret_post` or a public client.
    OidcClient,
    /// An OpenID access token.
    OidcBearer,
}

impl Auth {
    fn requirements(self) -> Option<Value> {
        // An admin key naming a user acts for them as a service key does (operators'
        // scripts, load tests): `user_principal` accepts both, and `caller` takes the admin
        // key as staff only without `X-Roomkey-User`.
        let user = [
            json!({"session": []}),
            json!({"serviceKey": [], "onBehalf": []}),
            json!({"adminKey": [], "onBehalf": []}),
        ];
        let requirements = match self {
            Auth::Public => return None,
            Auth::User => json!(user),
            Auth::Caller => json!([user[0], user[1], user[2], {"adminKey": []}]),
            Auth::Staff | Auth::Admin => json!([{"session": []}, {"adminKey": []}]),
            Auth::Service => json!([{"serviceKey": []}, {"adminKey": []}]),
            Auth::Prosody => json!([{"prosodyTimestamp": [], "prosodySignature": []}]),
            Auth::Epayco => json!([{"epaycoSignature": []}]),
            Auth::Provider => json!([{"standardWebhooks": []}, {"stripeSignature": []}]),
            Auth::OidcClient => json!([{"oidcClient": []}, {}]),
            Auth::OidcBearer => json!([{"oidcAccessToken": []}]),
        };
        Some(requirements)
    }

    /// The refusals its extractor answers with.
    fn refusals(self) -> &'static [u16] {
        match self {
            Auth::Public | Auth::OidcClient | Auth::OidcBearer => &[],
            Auth::User => &[401],
            Auth::Caller | Auth::Staff | Auth::Admin | Auth::Service => &[401, 403],
            Auth::Prosody => &[401],
            Auth::Epayco => &[400],
            Auth::Provider => &[400, 401, 404],
        }
    }
}

/// The schemas of every operation: requests as they are read, answers as they are written
/// (an `Option` field of an answer is always there, possibly `null`).
pub(super) struct Spec {
    requests: SchemaGenerator,
    answers: SchemaGenerator,
    pub(super) paths: Map<String, Value>,
}

impl Spec {
    pub(super) fn new() -> Self {
        let settings = SchemaSettings::draft2020_12().with(|settings| {
            settings.definitions_path = "/components/schemas".into();
            settings.meta_schema = None;
        });
        Self {
            requests: settings.clone().for_deserialize().into_generator(),
            answers: settings.for_serialize().into_generator(),
            paths: Map::new(),
        }
    }

    /// Starts an operation; it is added to the paths when the returned value is dropped.
    pub(super) fn op<'a>(
        &'a mut self,
        method: &'static str,
        path: &'static str,
        id: &'static str,
        tag: &'static str,
        summary: &'static str,
    ) -> Op<'a> {
        let mut operation = Map::new();
        operation.insert("operationId".into(), id.into());
        operation.insert("tags".into(), json!([tag]));
        operation.insert("summary".into(), summary.into());
        Op {
            spec: self,
            method,
            path,
            operation,
            parameters: path_parameters(path),
            responses: Map::new(),
            errors: path_refusals(path).to_vec(),
            auth: Auth::Public,
        }
    }

    /// Every named schema, requests' and answers' together.
    pub(super) fn take_schemas(&mut self) -> Map<String, Value> {
        let mut schemas = self.requests.take_definitions(true);
        for (name, schema) in self.answers.take_definitions(true) {
            if let Some(other) = schemas.get(&name) {
                assert_eq!(other, &schema, "two different schemas named {name}");
            }
            schemas.insert(name, schema);
        }
        schemas
    }
}

/// One operation being described.
pub(super) struct Op<'a> {
    spec: &'a mut Spec,
    method: &'static str,
    path: &'static str,
    operation: Map<String, Value>,
    parameters: Vec<Value>,
    responses: Map<String, Value>,
    errors: Vec<u16>,
    auth: Auth,
}

impl Op<'_> {
    pub(super) fn describe(mut self, text: &'static str) -> Self {
        self.operation.insert("description".into(), text.into());
        self
    }

    pub(super) fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self.errors.extend_from_slice(auth.refusals());
        self
    }

    /// The refusals this operation answers with besides those its extractors give.
    pub(super) fn errors(mut self, statuses: &[u16]) -> Self {
        self.errors.extend_from_slice(statuses);
        self
    }

    /// A JSON body, required (`ApiJson`) or optional (`OptionalJson`: empty means defaults).
    fn json_body<T: JsonSchema>(mut self, required: bool) -> Self {
        let schema = self.spec.requests.subschema_for::<T>().to_value();
        self.operation.insert(
            "requestBody".into(),
            json!({"required": required, "content": {"application/json": {"schema": schema}}}),
        );
        self.errors.extend_from_slice(&[400, 413, 415, 422]);
        self
    }

    pub(super) fn json<T: JsonSchema>(self) -> Self {
        self.json_body::<T>(true)
    }

    pub(super) fn optional_json<T: JsonSchema>(self) -> Self {
        self.json_body::<T>(false)
    }

    /// A JSON body a Prosody shard signs: checked over its bytes before it is parsed.
    pub(super) fn signed_json<T: JsonSchema>(mut self) -> Self {
        let schema = self.spec.requests.subschema_for::<T>().to_value();
        self.operation.insert(
            "requestBody".into(),
            json!({"required": true, "content": {"application/json": {"schema": schema}}}),
        );
        self.errors.extend_from_slice(&[400, 413, 422]);
        self
    }

    /// A JSON body the handler reads from its bytes (after checking a signature over them).
    pub(super) fn raw_json<T: JsonSchema>(mut self) -> Self {
        let schema = self.spec.requests.subschema_for::<T>().to_value();
        self.operation.insert(
            "requestBody".into(),
            json!({"required": true, "content": {"application/json": {"schema": schema}}}),
        );
        self.errors.extend_from_slice(&[400, 413, 415]);
        self
    }

    /// OAuth errors (RFC 6749 §5.2) at these statuses; a request cut short by the limits
    /// every route has is answered in the envelope instead.
    pub(super) fn oauth_errors(mut self, statuses: &[u16]) -> Self {
        let schema = json!({"anyOf": [
            {"$ref": "#/components/schemas/OAuthError"},
            {"$ref": "#/components/schemas/ErrorEnvelope"},
        ]});
        for status in statuses {
            self.responses.insert(
                status.to_string(),
                json!({"description": "an OAuth error",
                       "content": {"application/json": {"schema": schema}}}),
            );
        }
        self
    }

    /// An `application/x-www-form-urlencoded` body with these fields (all text).
    pub(super) fn form(mut self, fields: &[&str], required: &[&str]) -> Self {
        let properties: Map<String, Value> = fields
            .iter()
            .map(|field| ((*field).to_owned(), json!({"type": "string"})))
            .collect();
        let schema = json!({"type": "object", "properties": properties, "required": required});
        self.operation.insert(
            "requestBody".into(),
            json!({"required": true, "content": {
                "application/x-www-form-urlencoded": {"schema": schema}
            }}),
        );
        self.errors.push(413);
        self
    }

    /// Query parameters: the fields of `T` as the handler's `ApiQuery<T>` reads them.
    pub(super) fn query<T: JsonSchema>(mut self) -> Self {
        let root = SchemaGenerator::default()
            .into_root_schema_for::<T>()
            .to_value();
        let required = root.get("required").cloned().unwrap_or(json!([]));
        let properties = root.get("properties").and_then(Value::as_object);
        for (name, schema) in properties.into_iter().flatten() {
            let is_required = required
                .as_array()
                .is_some_and(|names| names.contains(&json!(name)));
            self.parameters.push(json!({
                "name": name, "in": "query", "required": is_required,
                "schema": without_null(schema),
            }));
        }
        self.errors.push(422);
        self
    }

    /// Query parameters read as raw text (`RawQuery`), none of them required. A NUL
    /// character in a query string is refused (422) before any handler runs.
    pub(super) fn query_text(mut self, names: &[&str]) -> Self {
        self.errors.push(422);
        for name in names {
            self.parameters.push(
                json!({"name": name, "in": "query", "required": false, "schema": {"type": "string"}}),
            );
        }
        self
    }

    pub(super) fn header(mut self, name: &str, description: &str) -> Self {
        self.parameters.push(json!({
            "name": name, "in": "header", "required": false,
            "description": description, "schema": {"type": "string"},
        }));
        self
    }

    /// A JSON answer written from `T`.
    pub(super) fn answer<T: JsonSchema>(mut self, status: u16, description: &str) -> Self {
        let schema = self.spec.answers.subschema_for::<T>().to_value();
        self.responses.insert(
            status.to_string(),
            json!({"description": description,
                   "content": {"application/json": {"schema": schema}}}),
        );
        self
    }

    /// An answer of another shape (documents roomkey serves but does not define in Rust).
    pub(super) fn content(
        mut self,
        status: u16,
        description: &str,
        media_type: &str,
        schema: Value,
    ) -> Self {
        let mut content = Map::new();
        content.insert(media_type.to_owned(), json!({ "schema": schema }));
        self.responses.insert(
            status.to_string(),
            json!({"description": description, "content": content}),
        );
        self
    }

    pub(super) fn empty(mut self, status: u16, description: &str) -> Self {
        self.responses
            .insert(status.to_string(), json!({"description": description}));
        self
    }

    /// A page: every status it may carry is an HTML page; 303 sends the browser on.
    pub(super) fn pages(mut self, statuses: &[u16]) -> Self {
        for status in statuses {
            let answer = if *status == 303 {
                json!({"description": "sent on (`Location`)",
                       "headers": {"Location": {"schema": {"type": "string"}}}})
            } else {
                json!({"description": "an HTML page",
                       "content": {"text/html": {"schema": {"type": "string"}}}})
            };
            self.responses.insert(status.to_string(), answer);
        }
        self
    }
}

impl Drop for Op<'_> {
    fn drop(&mut self) {
        let mut errors = std::mem::take(&mut self.errors);
        // Every route: the request timeout and the in-flight cap (503), a fault (500).
        errors.extend_from_slice(&[500, 503]);
        errors.sort_unstable();
        errors.dedup();
        for status in errors {
            self.responses.entry(status.to_string()).or_insert_with(
                || json!({"$ref": format!("#/components/responses/Error{status}")}),
            );
        }
        let mut operation = std::mem::take(&mut self.operation);
        if !self.parameters.is_empty() {
            operation.insert("parameters".into(), Value::Array(self.parameters.clone()));
        }
        if let Some(security) = self.auth.requirements() {
            operation.insert("security".into(), security);
        }
        operation.insert(
            "responses".into(),
            Value::Object(std::mem::take(&mut self.responses)),
        );
        let item = self
            .spec
            .paths
            .entry(self.path)
            .or_insert_with(|| json!({}));
        let method = self.method.to_ascii_lowercase();
        assert!(
            item.get(&method).is_none(),
            "{} {} described twice",
            self.method,
            self.path
        );
        item[method.as_str()] = Value::Object(operation);
    }
}

/// A path template's parameters, each described by its name.
fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let description = match name {
                "room" => "a room's name (a Jitsi room name; letters are compared case-blind)",
                "id" => "the id of the resource named before it",
                "name" => "a name the resource before it knows",
                "reference" => "roomkey's payment reference (`invoice` at checkout)",
                "provider" => "a provider configured in `payments.providers`",
                "file" => "a key file, `<kid>.pem`",
                _ => "a path parameter",
            };
            // A room name's bounds (`RoomName::parse`): anything else is refused (400).
            let schema = match name {
                "room" => json!({"type": "string", "minLength": 1, "maxLength": 200}),
                _ => json!({"type": "string"}),
            };
            json!({"name": name, "in": "path", "required": true,
                   "description": description, "schema": schema})
        })
        .collect()
}

/// What a malformed or unknown path parameter is answered with: 422 for a NUL character,
/// which the middleware refuses in any path before a handler runs.
fn path_refusals(path: &str) -> &'static [u16] {
    if path.contains('{') {
        &[400, 404, 422]
    } else {
        &[]
    }
}

/// A query parameter's schema, which is never `null` on the wire (absent instead).
fn without_null(schema: &Value) -> Value {
    let mut schema = schema.clone();
    if let Some(types) = schema.get("type").and_then(Value::as_array) {
        let types: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        schema["type"] = match types.as_slice() {
            [one] => one.clone(),
            _ => Value::Array(types),
        };
    }
    schema
}

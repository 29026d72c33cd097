//! The one table from error code to HTTP status, and the envelope every `/api` error
//! leaves in: `{"error": {"code", "message", "details"?}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use vm_system::{Error, ErrorCode};

/// The program's own codes (the core's are [`ErrorCode`]).
pub const INVALID_REQUEST: &str = "INVALID_REQUEST";
/// Missing or wrong bearer token.
pub const UNAUTHORIZED: &str = "UNAUTHORIZED";
/// No route has this path.
pub const NOT_FOUND: &str = "NOT_FOUND";
/// The route exists, not with this method.
pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
/// Body over the limit.
pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
/// The daemon that holds the session could not be reached, or stopped answering.
pub const OWNER_UNREACHABLE: &str = "OWNER_UNREACHABLE";

/// HTTP status of a code: the single place that decides it.
pub fn status_of(code: &str) -> StatusCode {
    match code {
        "VALIDATION_ERROR" | INVALID_REQUEST => StatusCode::BAD_REQUEST,
        UNAUTHORIZED => StatusCode::UNAUTHORIZED,
        "TEMPLATE_NOT_FOUND"
        | "SESSION_NOT_FOUND"
        | "EXECUTION_NOT_FOUND"
        | "FILE_NOT_FOUND"
        | NOT_FOUND => StatusCode::NOT_FOUND,
        METHOD_NOT_ALLOWED => StatusCode::METHOD_NOT_ALLOWED,
        "SESSION_NOT_READY" | "SESSION_BUSY" => StatusCode::CONFLICT,
        PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
        "INVALID_PATH"
        | "OUTPUT_LIMIT_EXCEEDED"
        | "STARTUP_MODE_UNSUPPORTED"
        | "MODULE_NOT_ALLOWED"
        | "STARTUP_FAILED" => StatusCode::UNPROCESSABLE_ENTITY,
        OWNER_UNREACHABLE => StatusCode::BAD_GATEWAY,
        // Both pass: capacity frees up, the store comes back.
        "NO_CAPACITY" | "STORE_UNAVAILABLE" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error answered by the API.
#[derive(Debug)]
pub struct ApiError {
    code: &'static str,
    message: String,
    details: Map<String, Value>,
}

impl ApiError {
    /// An error with one of the program's codes, or a core code by name.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            details: Map::new(),
        }
    }

    /// `400 INVALID_REQUEST`.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(INVALID_REQUEST, message)
    }

    /// `400 VALIDATION_ERROR`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Validation.as_str(), message)
    }

    /// Adds `details.<key>` unless the error already names one.
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.entry(key).or_insert_with(|| value.into());
        self
    }

    /// Adds `details.template_id` (errors of a template's routes).
    pub fn template(self, id: &str) -> Self {
        self.detail("template_id", id)
    }

    /// The code.
    #[cfg(test)]
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let mut out = ApiError::new(e.code().as_str(), e.to_string());
        match &e {
            Error::TemplateNotFound(id) => out = out.detail("template_id", id.as_str()),
            Error::SessionNotFound(id) => out = out.detail("session_id", id.as_str()),
            Error::ExecutionNotFound(id) => out = out.detail("execution_id", id.as_str()),
            _ => {}
        }
        if let Some(id) = e.session_id() {
            out = out.detail("session_id", id);
        }
        if let Some(id) = e.execution_id() {
            out = out.detail("execution_id", id);
        }
        out
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = Map::new();
        error.insert("code".into(), json!(self.code));
        error.insert("message".into(), json!(self.message));
        if !self.details.is_empty() {
            error.insert("details".into(), Value::Object(self.details));
        }
        (
            status_of(self.code),
            axum::Json(json!({ "error": Value::Object(error) })),
        )
            .into_response()
    }
}

/// A handler's result.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_code_has_its_status() {
        for code in ErrorCode::ALL {
            let status = status_of(code.as_str());
            let expected = match code {
                ErrorCode::Validation => 400,
                ErrorCode::TemplateNotFound
                | ErrorCode::SessionNotFound
                | ErrorCode::ExecutionNotFound
                | ErrorCode::FileNotFound => 404,
                ErrorCode::SessionNotReady | ErrorCode::SessionBusy => 409,
                ErrorCode::NoCapacity | ErrorCode::StoreUnavailable => 503,
                ErrorCode::Internal => 500,
                _ => 422,
            };
            assert_eq!(status.as_u16(), expected, "{code}");
        }
        assert_eq!(status_of(PAYLOAD_TOO_LARGE), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(status_of(UNAUTHORIZED), StatusCode::UNAUTHORIZED);
        assert_eq!(status_of(OWNER_UNREACHABLE), StatusCode::BAD_GATEWAY);
    }

    #[test]
    fn core_errors_carry_their_ids() {
        let e = ApiError::from(Error::SessionBusy {
            session_id: "s".into(),
        })
        .template("t");
        assert_eq!(e.code(), "SESSION_BUSY");
        assert_eq!(e.details["session_id"], "s");
        assert_eq!(e.details["template_id"], "t");
        let e = ApiError::from(Error::TemplateNotFound("t1".into())).template("t2");
        assert_eq!(e.details["template_id"], "t1");
    }
}

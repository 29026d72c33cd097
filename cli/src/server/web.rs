//! The web console: its built assets (`cli/web/dist`, produced from `cli/web/src` by
//! `cli/web/build.mjs` and committed) are embedded in the binary, so the daemon serves the
//! console with no files beside it and no Node at build time.
//!
//! Mount [`handler`] as the fallback for every path outside `/api`: `/assets/…` are the
//! bundle, and any other `GET` answers `index.html`, so a console URL (`/sessions/{id}`, …)
//! opened directly or reloaded loads the console, which then routes on the path itself.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

const INDEX_HTML: &[u8] = include_bytes!("../../web/dist/index.html");
const APP_JS: &[u8] = include_bytes!("../../web/dist/app.js");
const APP_CSS: &[u8] = include_bytes!("../../web/dist/app.css");

/// Everything the page may load comes from this daemon; CodeMirror injects `<style>` elements,
/// hence `'unsafe-inline'` for styles only.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    body: &'static [u8],
    content_type: &'static str,
}

fn asset(path: &str) -> Option<Asset> {
    match path {
        "/assets/app.js" => Some(Asset {
            body: APP_JS,
            content_type: "text/javascript; charset=utf-8",
        }),
        "/assets/app.css" => Some(Asset {
            body: APP_CSS,
            content_type: "text/css; charset=utf-8",
        }),
        _ => None,
    }
}

/// A strong validator for an embedded file: a hash of its bytes (FNV-1a, 64 bits), so a
/// browser revalidates cheaply and a new binary never serves a stale bundle.
fn etag(body: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in body {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{hash:016x}\"")
}

/// Serves the console for a request outside `/api`: the bundle under `/assets/`, a 404 for
/// any other `/assets/` path, and `index.html` for every other `GET`/`HEAD`.
pub async fn handler(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "405 method not allowed\n",
        )
            .into_response();
    }
    let path = uri.path();
    let (body, content_type) = match asset(path) {
        Some(a) => (a.body, a.content_type),
        None if path.starts_with("/assets/") => {
            return (StatusCode::NOT_FOUND, "404 not found\n").into_response()
        }
        None => (INDEX_HTML, "text/html; charset=utf-8"),
    };
    let tag = etag(body);
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut response = if not_modified {
        Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
    } else if method == Method::HEAD {
        Response::builder()
            .header(header::CONTENT_LENGTH, body.len())
            .body(Body::empty())
    } else {
        Response::builder().body(Body::from(body))
    }
    .expect("static response parts are valid");
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&tag).expect("hex is a valid header"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(path: &str, headers: HeaderMap) -> Response {
        handler(Method::GET, path.parse().unwrap(), headers).await
    }

    async fn body(response: Response) -> Vec<u8> {
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
    }

    #[tokio::test]
    async fn console_paths_answer_the_index_and_assets_their_bundle() {
        for path in ["/", "/templates", "/sessions/abc/executions/def?x=1"] {
            let r = get(path, HeaderMap::new()).await;
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(
                r.headers()[header::CONTENT_TYPE],
                "text/html; charset=utf-8"
            );
            assert!(r.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("connect-src 'self'"));
            let html = String::from_utf8(body(r).await).unwrap();
            assert!(html.contains("/assets/app.js"), "{html}");
        }
        let js = get("/assets/app.js", HeaderMap::new()).await;
        assert_eq!(
            js.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(body(js).await, APP_JS);
        let css = get("/assets/app.css", HeaderMap::new()).await;
        assert_eq!(body(css).await, APP_CSS);
        assert_eq!(
            get("/assets/nope.js", HeaderMap::new()).await.status(),
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn a_matching_etag_is_not_modified_and_other_methods_are_refused() {
        let first = get("/assets/app.js", HeaderMap::new()).await;
        let tag = first.headers()[header::ETAG].clone();
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, tag);
        let again = get("/assets/app.js", headers).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(body(again).await.is_empty());
        let post = handler(
            Method::POST,
            "/templates".parse().unwrap(),
            HeaderMap::new(),
        )
        .await;
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        let head = handler(Method::HEAD, "/".parse().unwrap(), HeaderMap::new()).await;
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(
            head.headers()[header::CONTENT_LENGTH],
            INDEX_HTML.len().to_string()
        );
    }
}

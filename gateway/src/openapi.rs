//! The OpenAPI document's frame; paths come from the routes themselves.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "medrt", description = "Real-time platform for an internet hospital: chat, imaging AI, follow-up, distribution."),
    modifiers(&BearerAuth),
    tags(
        (name = "auth"), (name = "accounts"), (name = "admin"), (name = "points"), (name = "distribution"), (name = "mall"),
        (name = "realtime", description = "WebSocket: JSON frames, see CONTRACT.md"), (name = "ops"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

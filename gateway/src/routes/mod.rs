//! HTTP routes under `/api/v1`, each documented for `/openapi.json`.

mod admin;
mod announcements;
mod auth;
mod commissions;
mod coupons;
mod distributors;
mod ledger_config;
mod me;
mod new_account;
pub mod ops;
mod orders;
mod paging;
mod points;
mod products;
mod users;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(me::get_me, me::update_me))
        .routes(routes!(users::get_user))
        .routes(routes!(admin::create_sub_account, admin::list_sub_accounts))
        .routes(routes!(admin::presence))
        .routes(routes!(announcements::publish))
        .routes(routes!(announcements::list))
        .routes(routes!(points::balances))
        .routes(routes!(points::transactions))
        .routes(routes!(points::grant))
        .routes(routes!(points::allocate))
        .routes(routes!(
            ledger_config::get_config,
            ledger_config::put_config
        ))
        .routes(routes!(ledger_config::audit))
        .routes(routes!(distributors::join))
        .routes(routes!(distributors::me))
        .routes(routes!(distributors::qr_png))
        .routes(routes!(distributors::downline))
        .routes(routes!(products::add))
        .routes(routes!(products::list))
        .routes(routes!(coupons::add))
        .routes(routes!(orders::create))
        .routes(routes!(orders::get))
        .routes(routes!(orders::pay))
        .routes(routes!(orders::refund))
        .routes(routes!(commissions::list))
        .routes(routes!(commissions::get_rules, commissions::put_rules))
        .routes(routes!(commissions::settle))
        .routes(routes!(commissions::mark_fraud))
        .routes(routes!(commissions::pay_out))
}

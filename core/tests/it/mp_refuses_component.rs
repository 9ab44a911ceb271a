//! The third-party platform's operations (spec tag `component`, `Auth::ComponentAccessToken`)
//! are not the mini-program client's: sent through `MiniProgramClient` they are refused with a
//! configuration error naming `ComponentClient`, before anything reaches the network (not even
//! the mini-program's own token fetch).

use weixin_kit::component::{
    ComponentOperations, GetAuthorizerAccessTokenRequest, QueryAuthRequest, OPERATIONS,
};
use weixin_kit::operation::Auth;
use weixin_kit::{Error, SecretString};

use crate::common::{mp_client, sandbox};

#[tokio::test]
async fn mini_program_client_refuses_component_operations() {
    let sandbox = sandbox().await;
    let client = mp_client(&sandbox);
    // The generated group runs on any `Execute`; `MiniProgramClient` does not implement
    // `component::Operations`, but nothing stops a caller from building the group on it.
    let component = ComponentOperations::new(&client);
    let refused = [
        component
            .query_auth(&QueryAuthRequest {
                component_appid: "wx-component".into(),
                authorization_code: SecretString::from("code-1".to_owned()),
            })
            .await
            .map(|_| ()),
        component
            .get_authorizer_access_token(&GetAuthorizerAccessTokenRequest {
                component_appid: "wx-component".into(),
                authorizer_appid: "wx-authorizer".into(),
                authorizer_refresh_token: SecretString::from("refresh-1".to_owned()),
            })
            .await
            .map(|_| ()),
    ];
    for (result, op) in refused
        .into_iter()
        .zip(["queryAuth", "getAuthorizerAccessToken"])
    {
        match result {
            Err(Error::Config { detail }) => {
                assert!(detail.contains(op), "{detail}");
                assert!(detail.contains("send it with ComponentClient"), "{detail}");
                assert!(
                    !detail.contains("refresh-1") && !detail.contains("code-1"),
                    "{detail}"
                );
            }
            other => panic!("{op}: expected a Config error, got {other:?}"),
        }
    }
    // Nothing was sent: no call of any operation, the mini-program token included.
    let calls = &sandbox.mp().counters()["calls"];
    assert!(
        calls.as_object().is_none_or(|c| c.values().all(|n| n == 0)),
        "the sandbox saw {calls}"
    );
    // Every operation that needs the component token is one the mini-program client refuses.
    assert!(OPERATIONS
        .iter()
        .any(|op| op.auth == Auth::ComponentAccessToken));
}

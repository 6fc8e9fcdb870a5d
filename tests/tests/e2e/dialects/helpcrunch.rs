//! HelpCrunch (seed 002): `PUT /v1/customers/batch`.

use serde_json::{Value, json};
use userhub_tests::TestApp;

/// The seed's request body, verbatim.
const EXAMPLE: &str = r##"[
  {
    "customer": 542335,
    "name": "John Doe",
    "email": "[email protected]",
    "userId": "user_1234567890",
    "company": "Example Inc.",
    "phone": "+10233456781",
    "firstSeen": "1603885746",
    "lastSeen": "1603885746",
    "unsubscribed": false,
    "blocked": false,
    "source": "https://example.com",
    "referer": "https://example.com",
    "lastPage": "https://example.com",
    "locale": "uk",
    "createdFrom": "telegram",
    "integrationId": "465847687",
    "notes": "Lorem ipsum",
    "tags": [
      {
        "name": "vip",
        "color": "#ff0000"
      }
    ],
    "customData": [
      {
        "property": "subscription_status",
        "value": "active"
      },
      {
        "property": "number_of_payments",
        "value": 15
      },
      {
        "property": "last_paid_amount",
        "value": 15.99
      },
      {
        "property": "last_payment_date",
        "value": "1603885746"
      },
      {
        "property": "last_invoice_url",
        "value": "https://example.com/invoice.html"
      },
      {
        "property": "last_payment_was_successful",
        "value": true
      }
    ]
  }
]"##;

async fn put(app: &TestApp, key: &str, body: String) -> (u16, Value) {
    let response = app
        .client
        .put(format!("{}/v1/customers/batch", app.base_url))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn documented_error(code: &str, message: &str) -> Value {
    json!({"errors": [
        {"code": "invalid_request", "message": "Invalid request"},
        {"code": code, "message": message}
    ]})
}

/// A customer created through the native API; returns its id.
async fn customer(app: &TestApp, uid: &str) -> i64 {
    let task = app
        .create_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": uid}], "custom_fields": {"company": "Old Inc."}})],
        )
        .await;
    app.wait_completed(task).await;
    app.results(task).await[0]["core-profile-id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn the_seed_example_updates_a_customer_and_answers_it() {
    let app = TestApp::spawn().await;
    // Verbatim: no customer 542335 in this domain.
    let (status, body) = put(&app, &app.api_key, EXAMPLE.to_owned()).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        body["errors"][0],
        json!({"code": "invalid_request", "message": "Invalid request"})
    );
    assert_eq!(body["errors"][1]["code"], "not_found");

    let id = customer(&app, "user_1234567890").await;
    let example = EXAMPLE.replace("542335", &id.to_string());
    // The seed's e-mail text is not an address: the whole request is refused, nothing changes.
    let (status, body) = put(&app, &app.api_key, example.clone()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][1]["code"], "invalid_value");
    assert!(
        body["errors"][1]["message"]
            .as_str()
            .unwrap()
            .contains("email"),
        "{body}"
    );
    let before = super::profiles(&app).await;
    assert_eq!(before[0]["names"], Value::Null);

    let example = example.replace("[email protected]", "john@example.com");
    let (status, body) = put(&app, &app.api_key, example).await;
    assert_eq!(status, 200, "{body}");
    let expected = json!([{
        "id": id,
        "name": "John Doe",
        "email": "john@example.com",
        "userId": "user_1234567890",
        "phone": "+10233456781",
        "locale": "uk",
        "company": "Example Inc.",
        "firstSeen": "1603885746",
        "lastSeen": "1603885746",
        "unsubscribed": false,
        "blocked": false,
        "source": "https://example.com",
        "referer": "https://example.com",
        "lastPage": "https://example.com",
        "createdFrom": "telegram",
        "integrationId": "465847687",
        "notes": "Lorem ipsum",
        "tags": [{"name": "vip", "color": "#ff0000"}],
        "customData": {
            "subscription_status": "active",
            "number_of_payments": 15,
            "last_paid_amount": 15.99,
            "last_payment_date": "1603885746",
            "last_invoice_url": "https://example.com/invoice.html",
            "last_payment_was_successful": true
        }
    }]);
    let mut answer = body.clone();
    // Compare members regardless of order.
    assert_eq!(
        serde_json::from_value::<std::collections::BTreeMap<String, Value>>(answer[0].take())
            .unwrap(),
        serde_json::from_value::<std::collections::BTreeMap<String, Value>>(expected[0].clone())
            .unwrap()
    );
    app.stop().await;
}

#[tokio::test]
async fn omitted_fields_stay_and_null_clears() {
    let app = TestApp::spawn().await;
    let id = customer(&app, "u-null").await;
    let first = json!([{"customer": id, "name": "Ann", "notes": "keep",
                        "customData": [{"property": "plan", "value": "pro"}, {"property": "seats", "value": 3}]}]);
    let (status, body) = put(&app, &app.api_key, first.to_string()).await;
    assert_eq!(status, 200, "{body}");
    let second = json!([{"customer": id, "name": null, "customData": [{"property": "plan", "value": null}]}]);
    let (status, body) = put(&app, &app.api_key, second.to_string()).await;
    assert_eq!(status, 200, "{body}");
    let customer = &body[0];
    assert_eq!(customer["name"], Value::Null);
    assert_eq!(customer["notes"], "keep", "omitted fields stay");
    assert_eq!(customer["company"], "Old Inc.");
    assert_eq!(customer["customData"], json!({"seats": 3}));
    assert_eq!(customer["tags"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn one_to_ten_customers_and_documented_errors() {
    let app = TestApp::spawn().await;
    let id = customer(&app, "u-limits").await;
    let (status, body) = put(&app, &app.api_key, "[]".to_owned()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["code"], "invalid_request");
    let eleven: Vec<Value> = (0..11)
        .map(|_| json!({"customer": id, "notes": "x"}))
        .collect();
    let (status, body) = put(&app, &app.api_key, json!(eleven).to_string()).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"][1]["message"]
            .as_str()
            .unwrap()
            .contains("10")
    );
    let ten: Vec<Value> = (0..10)
        .map(|n| json!({"customer": id, "notes": format!("n{n}")}))
        .collect();
    let (status, body) = put(&app, &app.api_key, json!(ten).to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_array().unwrap().len(), 10);
    assert_eq!(
        super::profiles(&app).await[0]["custom_fields"]["notes"],
        "n9",
        "input order"
    );

    let (status, body) = put(&app, "uh_wrong_key", EXAMPLE.to_owned()).await;
    assert_eq!(status, 401);
    assert_eq!(body, documented_error("unauthorized", "Unauthorized"));
    app.stop().await;
}

#[tokio::test]
async fn the_121st_request_in_a_minute_is_429() {
    let app = TestApp::spawn().await;
    let mut statuses = Vec::new();
    for _ in 0..121 {
        let (status, body) = put(&app, &app.api_key, "[]".to_owned()).await;
        statuses.push(status);
        if status == 429 {
            assert_eq!(
                body,
                documented_error("too_many_requests", "Too many requests")
            );
        }
    }
    assert!(
        statuses[..120].iter().all(|status| *status == 400),
        "{statuses:?}"
    );
    assert_eq!(statuses[120], 429);
    app.stop().await;
}

#[tokio::test]
async fn a_batch_that_would_conflict_changes_nothing() {
    let app = TestApp::spawn().await;
    let ann = customer(&app, "ann").await;
    let bob = customer(&app, "bob").await;
    let (status, _) = put(
        &app,
        &app.api_key,
        json!([{"customer": bob, "email": "bob@example.com"}]).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    let before = super::profiles(&app).await;
    let refused = [
        // Ann's change is fine, but Bob's e-mail is not hers to take.
        json!([{"customer": ann, "notes": "changed"}, {"customer": ann, "email": "bob@example.com"}]),
        // Two customers claiming one new address.
        json!([{"customer": ann, "email": "new@example.com"}, {"customer": bob, "email": "NEW@example.com"}]),
        // A second userId.
        json!([{"customer": ann, "notes": "changed", "userId": "someone-else"}]),
    ];
    for body in refused {
        let (status, answer) = put(&app, &app.api_key, body.to_string()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["errors"][1]["code"], "invalid_value");
        assert_eq!(
            super::profiles(&app).await,
            before,
            "{body} changed nothing"
        );
    }
    assert_eq!(app.task_count().await, 3, "no task for a refused batch");
    app.stop().await;
}

#[tokio::test]
async fn custom_data_null_clears_only_custom_data() {
    let app = TestApp::spawn().await;
    let id = customer(&app, "u-cd").await;
    let first = json!([{"customer": id, "notes": "keep",
                        "customData": [{"property": "plan", "value": "pro"}]}]);
    assert_eq!(put(&app, &app.api_key, first.to_string()).await.0, 200);
    let (status, body) = put(
        &app,
        &app.api_key,
        json!([{"customer": id, "company": "New Inc.", "customData": null}]).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["customData"], json!({}));
    assert_eq!(body[0]["company"], "New Inc.");
    assert_eq!(body[0]["notes"], "keep");
    app.stop().await;
}

#[tokio::test]
async fn tag_colours_are_kept_for_later_answers() {
    let app = TestApp::spawn().await;
    let id = customer(&app, "u-colours").await;
    let coloured =
        json!([{"customer": id, "tags": [{"name": "vip", "color": "#ff0000"}, {"name": "new"}]}]);
    let (status, body) = put(&app, &app.api_key, coloured.to_string()).await;
    assert_eq!(status, 200, "{body}");
    // A later request that does not mention the tags still shows their colours.
    let later = json!([{"customer": id, "notes": "later"}]);
    let (status, body) = put(&app, &app.api_key, later.to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body[0]["tags"],
        json!([{"name": "vip", "color": "#ff0000"}, {"name": "new", "color": "#c377e0"}])
    );
    app.stop().await;
}

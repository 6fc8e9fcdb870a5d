//! Altcraft (seed 004): `POST /api/v1.1/profiles/import_batch`, JSON and XML.

use super::{post_text, profiles};
use serde_json::{Value, json};
use userhub_tests::TestApp;
use userhub_tests::event_tap::EventTap;

const PATH: &str = "/api/v1.1/profiles/import_batch";

/// The seed's JSON request, verbatim but for the token.
const JSON_EXAMPLE: &str = r#"{
"token": "abcdefghijklmnqrstuvwxyz",
"db_id": 1,
"matching": "custom",
"field_name": "Custom_ID",
"skip_triggers": true,
"data": [
{
"_fname": "Lala",
"_lname": "Doe",
"Custom_ID": 77,
"email": "example@example.com",
"subscriptions": [
{
"channel": "email",
"email_data": {
"email": "example@example.com"
},
"resource_id": 28,
"custom_fields": {
"custom_field": "test value"
},
"cats": [
"category_1",
"category_2"
]
}
]
},
{
"_fname": "Victor",
"Custom_ID": 88,
"email": "example@example.com"
}
]
}"#;

/// The seed's XML request, verbatim but for the token.
const XML_EXAMPLE: &str = r#"<xml>
<token>abcdefghijklmnqrstuvwxyz</token>
<db_id>1</db_id>
<matching>custom</matching>
<field_name>Custom_ID</field_name>
<skip_triggers>true</skip_triggers>
<data>
<_fname>Lala</_fname>
<_lname>Doe</_lname>
<Custom_ID>77</Custom_ID>
<email>example@example.com</email>
<subscriptions array='true'>
<channel>email</channel>
<email_data>
<email>example@example.com</email>
</email_data>
<resource_id>28</resource_id>
<custom_fields>
<custom_field>test value</custom_field>
</custom_fields>
<cats>category_1</cats>
<cats>category_2</cats>
</subscriptions>
</data>
<data>
<_fname>Alex</_fname>
<Custom_ID>345</Custom_ID>
<email>example@example.com</email>
</data>
</xml>"#;

const TOKEN: &str = "abcdefghijklmnqrstuvwxyz";

/// The shape of the seed's answer: `{error: 0, error_text, result: [...]}`.
fn assert_answer_shape(answer: &Value, records: usize) {
    assert_eq!(answer["error"], 0, "{answer}");
    assert_eq!(answer["error_text"], "Successful operation");
    assert_eq!(
        answer["result"].as_array().map(Vec::len),
        Some(records),
        "{answer}"
    );
}

#[tokio::test]
async fn the_seed_json_example_upserts_in_input_order() {
    let app = TestApp::spawn().await;
    let mut tap = EventTap::bind(&app, "#").await;
    let body = JSON_EXAMPLE.replace(TOKEN, &app.api_key);
    let (status, answer) = post_text(&app, PATH, "application/json", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_answer_shape(&answer, 2);
    let first = &answer["result"][0];
    assert_eq!(first["error"], 0);
    assert_eq!(first["error_text"], "Successful operation");
    let profile_id = first["profile_id"].as_str().unwrap().to_owned();
    // Victor (Custom_ID 88) is new, but the seed gives him Lala's e-mail: his record fails alone.
    assert_eq!(answer["result"][1]["error"], 400);
    assert!(
        answer["result"][1]["error_text"]
            .as_str()
            .unwrap()
            .contains("identit"),
        "{answer}"
    );
    let stored = profiles(&app).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["id"].to_string(), profile_id);
    assert_eq!(
        stored[0]["names"],
        json!({"first_name": "Lala", "last_name": "Doe"})
    );
    assert_eq!(stored[0]["custom_fields"]["Custom_ID"], 77);
    assert_eq!(
        stored[0]["custom_fields"]["subscriptions"][0]["cats"],
        json!(["category_1", "category_2"])
    );
    assert!(tap.events(&app).await.is_empty(), "skip_triggers: true");

    // Matching by the custom field again updates Lala; without skip_triggers an event follows.
    let update = json!({"token": app.api_key, "db_id": 1, "matching": "custom", "field_name": "Custom_ID",
                        "data": [{"Custom_ID": 77, "_fname": "Lola"}, {"Custom_ID": 99, "email": "new@example.com"}]});
    let (status, answer) = post_text(&app, PATH, "application/json", update.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"][0]["profile_id"], profile_id.as_str());
    assert_eq!(answer["result"][1]["error"], 0);
    assert_ne!(answer["result"][1]["profile_id"], profile_id.as_str());
    assert_eq!(tap.events(&app).await.len(), 2);
    tap.close().await;
    app.stop().await;
}

#[tokio::test]
async fn xml_and_json_give_the_same_outcome() {
    let json_app = TestApp::spawn().await;
    let xml_app = TestApp::spawn().await;
    let xml = XML_EXAMPLE.replace(TOKEN, &xml_app.api_key);
    let response = xml_app
        .client
        .post(format!("{}{PATH}", xml_app.base_url))
        .header("content-type", "application/xml")
        .body(xml)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    let text = response.text().await.unwrap();
    assert!(text.contains("<xml><error>0</error><error_text>Successful operation</error_text><result><error>0</error>"), "{text}");
    assert_eq!(text.matches("<result>").count(), 2, "{text}");
    // The XML example as JSON (its second profile is Alex, 345).
    let as_json = JSON_EXAMPLE
        .replace(TOKEN, &json_app.api_key)
        .replace("\"Victor\"", "\"Alex\"")
        .replace("\"Custom_ID\": 88", "\"Custom_ID\": 345");
    let (_, answer) = post_text(&json_app, PATH, "application/json", as_json).await;
    assert_answer_shape(&answer, 2);
    let strip = |mut profiles: Vec<Value>| {
        for profile in &mut profiles {
            profile.as_object_mut().unwrap().remove("id");
        }
        profiles
    };
    assert_eq!(
        strip(profiles(&xml_app).await),
        strip(profiles(&json_app).await)
    );
    assert_eq!(text.matches("<error>400</error>").count(), 1, "{text}");
    json_app.stop().await;
    xml_app.stop().await;
}

#[tokio::test]
async fn every_supported_matching_mode_and_a_clear_error_for_the_others() {
    let app = TestApp::spawn().await;
    let import = |matching: Value, data: Value| {
        json!({"token": app.api_key, "db_id": 1, "matching": matching, "data": data}).to_string()
    };
    let (_, created) = post_text(
        &app,
        PATH,
        "application/json",
        import(
            json!("email"),
            json!([{"email": "m@example.com", "phone": "+79000000000", "_fname": "M"}]),
        ),
    )
    .await;
    let id = created["result"][0]["profile_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (matching, data) in [
        (
            json!("email"),
            json!([{"email": "M@example.com", "tier": 1}]),
        ),
        (
            json!("phone"),
            json!([{"phone": "+7 900 000-00-00", "tier": 2}]),
        ),
        (
            json!("profile_id"),
            json!([{"profile_id": id.parse::<i64>().unwrap(), "tier": 3}]),
        ),
        (Value::Null, json!([{"email": "m@example.com", "tier": 4}])),
    ] {
        let (status, answer) = post_text(
            &app,
            PATH,
            "application/json",
            import(matching.clone(), data),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer["result"][0]["profile_id"],
            id.as_str(),
            "{matching}: {answer}"
        );
    }
    assert_eq!(profiles(&app).await.len(), 1);
    assert_eq!(profiles(&app).await[0]["custom_fields"]["tier"], 4);
    for unsupported in ["email_sub", "push_sub", "email_phone"] {
        let (status, answer) = post_text(
            &app,
            PATH,
            "application/json",
            import(json!(unsupported), json!([{"email": "x@example.com"}])),
        )
        .await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"], 400);
        assert_eq!(answer["error_text"], "Invalid request");
        assert!(
            answer["error_debug"]
                .as_str()
                .unwrap()
                .contains("unsupported matching"),
            "{answer}"
        );
    }
    let (status, answer) = post_text(&app, PATH, "application/json", JSON_EXAMPLE.to_owned()).await;
    assert_eq!(status, 401);
    assert_eq!(answer["error"], 401);
    let (status, answer) = post_text(
        &app,
        PATH,
        "application/json",
        json!({"token": app.api_key, "data": [{"email": "a@b.io"}]}).to_string(),
    )
    .await;
    assert_eq!(status, 400, "db_id is required: {answer}");
    let (status, _) = post_text(&app, PATH, "application/xml", "<xml><token>".to_owned()).await;
    assert_eq!(status, 400);
    assert_eq!(profiles(&app).await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn email_profile_matching_xml_text_parameters_and_the_size_limit() {
    let app = TestApp::spawn().await;
    let first =
        json!({"token": app.api_key, "db_id": 1, "data": [{"email": "e@example.com", "123": "k"}]});
    let (_, created) = post_text(&app, PATH, "application/json", first.to_string()).await;
    let id = created["result"][0]["profile_id"].clone();
    let again = json!({"token": app.api_key, "db_id": 1, "matching": "email_profile",
                       "data": [{"email": "E@example.com", "_fname": "E"}]});
    let (_, answer) = post_text(&app, PATH, "application/json", again.to_string()).await;
    assert_eq!(answer["result"][0]["profile_id"], id, "{answer}");
    // In XML a first name that reads as a number stays a name (text).
    let xml = format!(
        "<xml><token>{}</token><db_id>1</db_id><matching>custom</matching><field_name>Code</field_name>\
         <data><email>x42@example.com</email><Code>00042</Code><_fname>42</_fname></data></xml>",
        app.api_key
    );
    let (status, answer) = post_text(&app, PATH, "application/xml", xml).await;
    assert_eq!(status, 200, "{answer}");
    let text = answer.as_str().unwrap();
    assert!(
        text.contains(
            "<error>0</error><error_text>Successful operation</error_text><result><error>0</error>"
        ),
        "{text}"
    );
    let stored = profiles(&app).await;
    assert_eq!(stored[1]["names"], json!({"first_name": "42"}));
    assert_eq!(stored[1]["custom_fields"], json!({"Code": "00042"}));
    let huge = json!({"token": app.api_key, "db_id": 1,
                      "data": [{"email": "a@b.io", "notes": "x".repeat(11 * 1024 * 1024)}]});
    let (status, answer) = post_text(&app, PATH, "application/json", huge.to_string()).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer,
        json!({"error": 400, "error_debug": "http: request body too large", "error_text": "Invalid request"})
    );
    app.stop().await;
}

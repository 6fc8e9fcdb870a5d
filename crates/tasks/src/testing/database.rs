//! A database of its own for one test: created and migrated on the server named by
//! `USERHUB_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432`), dropped when
//! the test ends.

use userhub_domain::TaskId;
use userhub_store::{DatabaseSettings, Pool};

/// A migrated database, dropped on `Drop`.
pub struct TestDatabase {
    pub url: String,
    pub pool: Pool,
}

impl TestDatabase {
    /// Creates and migrates a database with a fresh name.
    pub async fn create() -> TestDatabase {
        let base = std::env::var("USERHUB_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
        // A task id is the time and 22 random bits: a fresh name.
        let name = format!("uh_test_t{}_{}", std::process::id(), TaskId::generate());
        let url = format!("{}/{name}", base.trim_end_matches('/'));
        userhub_store::create_database_if_missing(&url)
            .await
            .expect("create the test database");
        let settings = DatabaseSettings {
            url: url.clone(),
            pool_size: 8,
            ..DatabaseSettings::default()
        };
        let pool = userhub_store::connect_migrated(&settings)
            .await
            .expect("migrate the test database");
        TestDatabase { url, pool }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        self.pool.close();
        let url = self.url.clone();
        // Drop may run inside the test's runtime: drop the database from a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test database");
            runtime.block_on(userhub_store::drop_database(&url))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.url);
        }
    }
}

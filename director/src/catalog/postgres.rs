//! The PostgreSQL backend (the synchronous `postgres` crate).
//!
//! Chosen when the Catalog resource names a database server (`DB Address`). The `postgres`
//! crate drives its own private tokio runtime and **panics if called from inside another
//! runtime's worker thread**: the Director (a tokio daemon) must call every [`super::Catalog`]
//! method from `tokio::task::spawn_blocking` (or a dedicated catalog thread), which is also
//! what keeps a slow query from stalling the reactor. SQLite calls block the same way and
//! follow the same rule.
//!
//! Parameters are bound by the type the server inferred for each `$n`: [`Value::Int`] is
//! narrowed to `SMALLINT`/`INTEGER`/`BIGINT` with an overflow check, [`Value::Time`] becomes a
//! `TIMESTAMP` (via `SystemTime`, UTC), text goes to `TEXT`/`CHAR`/`VARCHAR`. Columns come back
//! the same way. Statements are prepared once per connection and cached by their SQL text.

use std::collections::HashMap;
use std::error::Error as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};

use super::sql::{renumber_placeholders, Conn, Dialect, Row, Value};
use super::Error;

/// Where the PostgreSQL catalog lives (the Catalog resource's `DB Address`, `DB Port`,
/// `DB Name`, `DB User`, `DB Password`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgParams {
    /// Host name or address.
    pub host: String,
    /// TCP port (5432 by default).
    pub port: u16,
    /// Database name.
    pub dbname: String,
    /// Role.
    pub user: String,
    /// Password (may be empty for trust authentication).
    pub password: String,
}

/// Prepared statements kept per connection before the cache is reset.
const STATEMENT_CACHE_MAX: usize = 512;

/// A catalog connection to a PostgreSQL server.
pub struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
}

fn db(e: postgres::Error) -> Error {
    // The server's own message (with SQLSTATE) is more useful than the crate's summary.
    match e.as_db_error() {
        Some(d) => Error::Database(format!("{}: {}", d.code().code(), d.message())),
        None => Error::Database(match e.source() {
            Some(s) => format!("{e}: {s}"),
            None => e.to_string(),
        }),
    }
}

impl PgConn {
    /// Connect (no TLS; the Director and its database usually share a host or a private
    /// network).
    pub fn connect(p: &PgParams) -> Result<Self, Error> {
        let mut cfg = postgres::Config::new();
        cfg.host(&p.host)
            .port(p.port)
            .dbname(&p.dbname)
            .user(&p.user)
            .application_name("barque-dir")
            .connect_timeout(Duration::from_secs(10));
        if !p.password.is_empty() {
            cfg.password(&p.password);
        }
        let client = cfg.connect(NoTls).map_err(db)?;
        Ok(Self {
            client,
            statements: HashMap::new(),
        })
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let st = self
            .client
            .prepare(&renumber_placeholders(sql))
            .map_err(db)?;
        if self.statements.len() >= STATEMENT_CACHE_MAX {
            // Queries with variable `IN (…)` lists make distinct texts; stay bounded.
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), st.clone());
        Ok(st)
    }
}

#[derive(Debug)]
struct Param<'a>(&'a Value);

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, BoxError> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT8 => v.to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR => v.to_string().as_str().to_sql(ty, out),
                _ => Err(format!("cannot bind an integer to a {ty} parameter").into()),
            },
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Time(t) => {
                let st = if *t >= 0 {
                    UNIX_EPOCH + Duration::from_secs(t.unsigned_abs())
                } else {
                    UNIX_EPOCH - Duration::from_secs(t.unsigned_abs())
                };
                st.to_sql(ty, out)
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn column(row: &postgres::Row, i: usize) -> Result<Value, Error> {
    let ty = row
        .columns()
        .get(i)
        .map(|c| c.type_().clone())
        .ok_or(Error::Schema("column index out of range"))?;
    let v = match ty {
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)
            .map(|v| v.map(|x| Value::Int(x.into()))),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)
            .map(|v| v.map(|x| Value::Int(x.into()))),
        Type::INT8 => row.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::Int)),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)
            .map(|v| v.map(|x| Value::Int(x.into()))),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => row
            .try_get::<_, Option<String>>(i)
            .map(|v| v.map(Value::Text)),
        Type::TIMESTAMP | Type::TIMESTAMPTZ => {
            let v = row.try_get::<_, Option<SystemTime>>(i).map_err(db)?;
            return Ok(match v {
                None => Value::Null,
                Some(st) => Value::Time(match st.duration_since(UNIX_EPOCH) {
                    Ok(d) => i64::try_from(d.as_secs()).map_err(|_| Error::OutOfRange)?,
                    Err(e) => {
                        -i64::try_from(e.duration().as_secs()).map_err(|_| Error::OutOfRange)?
                    }
                }),
            });
        }
        _ => return Err(Error::Schema("unsupported PostgreSQL column type")),
    };
    Ok(v.map_err(db)?.unwrap_or(Value::Null))
}

impl Conn for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn batch(&mut self, sql: &str) -> Result<(), Error> {
        self.client.batch_execute(sql).map_err(db)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Error> {
        let st = self.statement(sql)?;
        let ps: Vec<Param<'_>> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = ps.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        self.client.execute(&st, &refs).map_err(db)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Error> {
        let st = self.statement(sql)?;
        let ps: Vec<Param<'_>> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = ps.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let rows = self.client.query(&st, &refs).map_err(db)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut vals = Vec::with_capacity(r.len());
            for i in 0..r.len() {
                vals.push(column(r, i)?);
            }
            out.push(Row(vals));
        }
        Ok(out)
    }
}

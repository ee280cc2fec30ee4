-- A forecast registry as the release before schema migrations created it on PostgreSQL (metadata.create_all,
-- commit 7f8d74a, DDL compiled for PostgreSQL) with the same rows as registry_before_migrations.sqlite.sql.
-- Never regenerate it: it stands for registries already in production.
CREATE TABLE actuals (
	ticker VARCHAR(15) NOT NULL, 
	date DATE NOT NULL, 
	close FLOAT NOT NULL, 
	PRIMARY KEY (ticker, date)
);
CREATE TABLE forecasts (
	id SERIAL NOT NULL, 
	ticker VARCHAR(15) NOT NULL, 
	made_at DATE NOT NULL, 
	target_date DATE NOT NULL, 
	horizon_step INTEGER NOT NULL, 
	predicted FLOAT NOT NULL, 
	lower_80 FLOAT, 
	upper_80 FLOAT, 
	lower_95 FLOAT, 
	upper_95 FLOAT, 
	last_close FLOAT, 
	model_version VARCHAR(64) NOT NULL, 
	request_id VARCHAR(64), 
	input_hash VARCHAR(64) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	status VARCHAR(10) DEFAULT 'pending' NOT NULL, 
	actual FLOAT, 
	actual_date DATE, 
	abs_error FLOAT, 
	ape FLOAT, 
	naive_abs_error FLOAT, 
	naive_ape FLOAT, 
	validated_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_forecasts_identity UNIQUE (input_hash, model_version, ticker, target_date)
);
CREATE INDEX ix_forecasts_status_target ON forecasts (status, target_date);
CREATE INDEX ix_forecasts_ticker_status ON forecasts (ticker, status);
CREATE INDEX ix_forecasts_validated_errors ON forecasts (status, ticker, horizon_step, target_date, abs_error, ape, naive_abs_error, naive_ape, predicted, actual) WHERE status = 'validated';
INSERT INTO "actuals" VALUES('MSFT','2024-01-02',101.0);
INSERT INTO "actuals" VALUES('MSFT','2024-01-03',102.5);
INSERT INTO "actuals" VALUES('MSFT','2024-01-04',99.0);
INSERT INTO "forecasts" VALUES(1,'MSFT','2024-01-01','2024-01-02',1,100.0,98.0,102.0,96.0,104.0,99.5,'v1','req-1','hash-1','2026-12-02 05:24:26.435292','validated',101.0,'2024-01-02',1.0,0.99,1.5,1.49,'2026-12-02 05:24:26.449238');
INSERT INTO "forecasts" VALUES(2,'MSFT','2024-01-01','2024-01-03',2,101.0,99.0,103.0,97.0,105.0,99.5,'v1','req-1','hash-1','2026-12-02 05:24:26.435292','validated',102.5,'2024-01-03',1.5,1.46,3.0,2.93,'2026-12-02 05:24:26.449238');
INSERT INTO "forecasts" VALUES(3,'MSFT','2024-01-01','2024-01-04',3,102.0,100.0,104.0,98.0,106.0,99.5,'v1','req-1','hash-1','2026-12-02 05:24:26.435292','pending',NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "forecasts" VALUES(4,'MSFT','2024-01-01','2024-01-05',4,103.0,101.0,105.0,99.0,107.0,99.5,'v1','req-1','hash-1','2026-12-02 05:24:26.435292','pending',NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "forecasts" VALUES(5,'MSFT','2024-01-01','2024-01-06',5,104.0,102.0,106.0,100.0,108.0,99.5,'v1','req-1','hash-1','2026-12-02 05:24:26.435292','pending',NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "forecasts" VALUES(6,'^GSPC','2024-01-01','2024-01-02',1,100.0,98.0,102.0,96.0,104.0,NULL,'external','req-2','hash-2','2026-12-02 05:24:26.438017','pending',NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO "forecasts" VALUES(7,'^GSPC','2024-01-01','2024-01-03',2,101.0,99.0,103.0,97.0,105.0,NULL,'external','req-2','hash-2','2026-12-02 05:24:26.438017','pending',NULL,NULL,NULL,NULL,NULL,NULL,NULL);
SELECT setval('forecasts_id_seq', 7);

-- The same regmail database at revision 0006 on SQLite (sqlite3 iterdump).
BEGIN TRANSACTION;
CREATE TABLE account_tokens (
	token_hash VARCHAR(64) NOT NULL, 
	account_id VARCHAR(36) NOT NULL, 
	purpose VARCHAR(16) NOT NULL, 
	password_hash VARCHAR(255), 
	new_email VARCHAR(320), 
	created_at DATETIME NOT NULL, 
	expires_at DATETIME NOT NULL, 
	used_at DATETIME, 
	CONSTRAINT pk_account_tokens PRIMARY KEY (token_hash), 
	CONSTRAINT fk_account_tokens_account_id_accounts FOREIGN KEY(account_id) REFERENCES accounts (id)
);
INSERT INTO "account_tokens" VALUES('a93c3ae0a9c1bb71f69c0f34f2ead8c9db3f9ffb1ce63efed54a4ee6988cec4f','b7c8887a-a71b-4dc0-a6d9-1a702d70a5fd','activation','$argon2id$v=19$m=8192,t=1,p=1$5E9XnEuzVE7S0WA+H7xaFQ$2CeEca83023/ol6DuLzYR+DTfukgqjFFEsy2dF5Hlck',NULL,'2026-12-02 05:08:13.939534','2026-12-03 05:08:13.939534',NULL);
INSERT INTO "account_tokens" VALUES('29f76ecbbab1d799bc8fa722f67ac10b2a93dc3cdcb44d471b20f101e8797c26','7d1b22f7-caf0-4941-a575-54740bb1c22a','activation','$argon2id$v=19$m=8192,t=1,p=1$VSurop1zbJT0sFtfQJpPCQ$mpXqhCJVU8n+oR7PcK7vd2oQDVmBXzxD+RXDKnuw3gg',NULL,'2026-12-02 05:08:13.964408','2026-12-03 05:08:13.964408',NULL);
INSERT INTO "account_tokens" VALUES('5a04d2cad63ae5c230442de915d691c9cefa09ea4cdb96d221afdf50cfe00f13','0f997607-10a2-4c31-bca9-8a0b685e8aef','activation','$argon2id$v=19$m=8192,t=1,p=1$l66NqJB3x7fG5yM4dchZKg$mvV013vGjvTpk95gqAOShrXutt+PC+9abfRSqn5EOkA',NULL,'2026-12-02 05:08:13.975964','2026-12-03 05:08:13.975964',NULL);
INSERT INTO "account_tokens" VALUES('beb4345a38ec27c2f462306d412bdb4ecd2cea817b694ba912ceaf59cd14c29f','10a9a8f6-df2f-403b-9893-ed4e051be19a','activation','$argon2id$v=19$m=8192,t=1,p=1$8Uv0y3wRPwPmyOW9ZqKl1w$/rKda5bu7SC6TPexzd5AR/yE0emUoXMOcTJ54XiyKHg',NULL,'2026-12-02 05:08:13.986605','2026-12-03 05:08:13.986605',NULL);
INSERT INTO "account_tokens" VALUES('39b65742161a635b23097ffc5aeea71f449f3b927cf262a020f694883cfd2ebd','90d84eb6-c806-4cd5-b37f-b129dfb63f0a','activation','$argon2id$v=19$m=8192,t=1,p=1$sShGv7/ZjYerEK5y/FGsow$tGjEVfzaoNi0oRlzXB3+vR3H9aYkFWSFLu+Pgxd3eaw',NULL,'2026-12-02 05:08:13.996905','2026-12-03 05:08:13.996905',NULL);
CREATE TABLE accounts (
	id VARCHAR(36) NOT NULL, 
	email VARCHAR(320) NOT NULL, 
	email_key VARCHAR(320) NOT NULL, 
	password_hash VARCHAR(255) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	locale VARCHAR(16) NOT NULL, 
	created_at DATETIME NOT NULL, 
	activated_at DATETIME, failed_sign_ins INTEGER DEFAULT '0' NOT NULL, 
	CONSTRAINT pk_accounts PRIMARY KEY (id), 
	CONSTRAINT uq_accounts_email_key UNIQUE (email_key)
);
INSERT INTO "accounts" VALUES('b7c8887a-a71b-4dc0-a6d9-1a702d70a5fd','user0@example.com','user0@example.com','$argon2id$v=19$m=8192,t=1,p=1$5E9XnEuzVE7S0WA+H7xaFQ$2CeEca83023/ol6DuLzYR+DTfukgqjFFEsy2dF5Hlck','pending','en','2026-12-02 05:08:13.939534',NULL,0);
INSERT INTO "accounts" VALUES('7d1b22f7-caf0-4941-a575-54740bb1c22a','user1@example.com','user1@example.com','$argon2id$v=19$m=8192,t=1,p=1$VSurop1zbJT0sFtfQJpPCQ$mpXqhCJVU8n+oR7PcK7vd2oQDVmBXzxD+RXDKnuw3gg','pending','en','2026-12-02 05:08:13.964408',NULL,0);
INSERT INTO "accounts" VALUES('0f997607-10a2-4c31-bca9-8a0b685e8aef','user2@example.com','user2@example.com','$argon2id$v=19$m=8192,t=1,p=1$l66NqJB3x7fG5yM4dchZKg$mvV013vGjvTpk95gqAOShrXutt+PC+9abfRSqn5EOkA','pending','en','2026-12-02 05:08:13.975964',NULL,0);
INSERT INTO "accounts" VALUES('10a9a8f6-df2f-403b-9893-ed4e051be19a','user3@example.com','user3@example.com','$argon2id$v=19$m=8192,t=1,p=1$8Uv0y3wRPwPmyOW9ZqKl1w$/rKda5bu7SC6TPexzd5AR/yE0emUoXMOcTJ54XiyKHg','pending','en','2026-12-02 05:08:13.986605',NULL,0);
INSERT INTO "accounts" VALUES('90d84eb6-c806-4cd5-b37f-b129dfb63f0a','user4@example.com','user4@example.com','$argon2id$v=19$m=8192,t=1,p=1$sShGv7/ZjYerEK5y/FGsow$tGjEVfzaoNi0oRlzXB3+vR3H9aYkFWSFLu+Pgxd3eaw','pending','en','2026-12-02 05:08:13.996905',NULL,0);
CREATE TABLE address_requests (
	id INTEGER NOT NULL, 
	action VARCHAR(16) NOT NULL, 
	email VARCHAR(320) NOT NULL, 
	locale VARCHAR(16) NOT NULL, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_address_requests PRIMARY KEY (id)
);
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO "alembic_version" VALUES('0006');
CREATE TABLE "mails" (
	id VARCHAR(36) NOT NULL, 
	account_id VARCHAR(36), 
	kind VARCHAR(32) NOT NULL, 
	recipient VARCHAR(320) NOT NULL, 
	locale VARCHAR(16) NOT NULL, 
	payload JSON NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	attempts INTEGER NOT NULL, 
	attempts_before_replay INTEGER NOT NULL, 
	replayed_at DATETIME, 
	last_reply TEXT, 
	dead_reason VARCHAR(32), 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	next_attempt_at DATETIME, 
	sending_until DATETIME, 
	sent_at DATETIME, 
	expires_at DATETIME, 
	channel VARCHAR(8) DEFAULT 'mail' NOT NULL, 
	CONSTRAINT pk_mails PRIMARY KEY (id)
);
INSERT INTO "mails" VALUES('e5b22dcd-95ed-4c4a-9faf-d1bbdd1eef8c','b7c8887a-a71b-4dc0-a6d9-1a702d70a5fd','account.registered','webhook:default','en','{"sealed": "fb2b184e.ENmH-2wYbWzNohHI.szNmBs0KqXLAb8qKMO6DZMVKiOpLtNv4Nluu_-9F9UpMa9aPgSibKPCmq8f0sl_FjO9yw1he5VhSTuRMQuZR3I-M9GEmq9sWez9eXVWD7u2pGg-NkaRYq7_91G0GS-qm1J-46Uo1110HLq92C6fjT61ktVQA3BK_T_Q6nqoqFFOC_vT5vscYIRXbxQyJDwmUzuvzGsa3TUgUF6npRhEYwdNrrQ6dsP_ObBdhxGrihYwJImtrf_lMCAHwnT1aQolvq_BFqYiEsnlISCvjxH37rTdCD4zUz8ZH6gAO-g"}','queued',0,0,NULL,NULL,NULL,'2026-12-02 05:08:13.939534','2026-12-02 05:08:13.939534',NULL,NULL,NULL,NULL,'event');
INSERT INTO "mails" VALUES('094e7f32-3df2-4b9a-bd7a-1734644e018e','b7c8887a-a71b-4dc0-a6d9-1a702d70a5fd','activation','user0@example.com','en','{"sealed": "fb2b184e.CpJ16wgF_gri5bx-.Y2AJuvkQrs1GpaBqBViDpTEZeMaIjGmOfiK05icKTkRgoA2uQusbih3lLv2B-cjc0Sy0-uY8DEt2AR1jRMbtGtiKS7QtCTg"}','queued',0,0,NULL,NULL,NULL,'2026-12-02 05:08:13.939534','2026-12-02 05:08:14.001887',NULL,NULL,NULL,'2026-12-03 05:08:13.939534','mail');
INSERT INTO "mails" VALUES('8dfb5fde-1eb7-4d2d-be42-df85877c81b9','7d1b22f7-caf0-4941-a575-54740bb1c22a','account.registered','webhook:default','en','{"sealed": "fb2b184e.Yfulx8QpTlrSlmXs.jrTTKs0Pv_RSC4VtlxDrh0YJOLN0MlDKLuZSbzoOoXegXDP-_QD5xvhRZpmH0qUIMyLskZc60giLgd12TX2t-huxS5-QjBHTL2vM1NZz6Vx_1qS-IGoxNOxEt_P_plmb79PPgcX9OUDTqIuSSomLif3G63bTb7v7UH87BH6lTUp_k8dOxlINh2Sqj1iPgRoojNSSEZF1fSviT3Mh-3wc8MIwjvJEgU2pEtqBeEz4tcC7NM_nR-lZXKiMMwfOFr_c3qDo61egA0bN7dsUWVME3CHh5BOGUFlMBpLdag"}','queued',0,0,NULL,NULL,NULL,'2026-12-02 05:08:13.964408','2026-12-02 05:08:13.964408',NULL,NULL,NULL,NULL,'event');
INSERT INTO "mails" VALUES('36a58444-5eb1-4e2f-ada0-c9686ea7f57a','7d1b22f7-caf0-4941-a575-54740bb1c22a','activation','user1@example.com','en','{"sealed": "fb2b184e.S4rNQl6hNhlgafmo.nDdH1MX9PLZh6zn-rrgyuBZjXlP9knuhDrAbgelP40z9EXrq_NenE4Ts-W2eN6yIY-Zlbcj4wtHefnl4ybpvBTwZgww2i3g"}','sending',0,0,NULL,NULL,NULL,'2026-12-02 05:08:13.964408','2026-12-02 05:08:14.001887',NULL,NULL,NULL,'2026-12-03 05:08:13.964408','mail');
INSERT INTO "mails" VALUES('d525fb07-09bd-413b-8d63-b38b42d183be','0f997607-10a2-4c31-bca9-8a0b685e8aef','account.registered','webhook:default','en','{"sealed": "fb2b184e.A9gDJWCzk_O4LvEs.C9d0YTgsMZcfhDMZPZt3qra6bFoRtpt0-dIxPD42axKP574E-zXjGgRgELIK8gJwCVrc5IMUyYW-MKJwf4lUrvgOZdoXnU9N0t5YpN93ivP4X3K7-eCbHKjV6u-WRNdvPFHTmkKoZ04kzYgE4h3UOdbiXdwzJd2kB02WWg57ttkHdXbHU5oJ4hARxSiu3WI9ZiDdq1z7tldDLorqtS9c8R_xWoDuKB4dbOtH8eTZacABSUl9zTq_f0L3jDKP886ogeoSlbE251mWeapfIFs4CbGDy4BzKGKRkq8T1g"}','queued',0,0,NULL,NULL,NULL,'2026-12-02 05:08:13.975964','2026-12-02 05:08:13.975964',NULL,NULL,NULL,NULL,'event');
INSERT INTO "mails" VALUES('44bf31d8-1cd5-49bf-8efe-a8bc0a766fb5','0f997607-10a2-4c31-bca9-8a0b685e8aef','activation','user2@example.com','en','{}','sent',1,0,NULL,NULL,NULL,'2026-12-02 05:08:13.975964','2026-12-02 05:08:14.001887',NULL,NULL,'2026-12-02 05:08:14.001887','2026-12-03 05:08:13.975964','mail');
INSERT INTO "mails" VALUES('0ce00a3c-1bf4-4eab-9fa0-0790d9c42fe4','10a9a8f6-df2f-403b-9893-ed4e051be19a','account.registered','webhook:default','en','{"sealed": "fb2b184e.LUPZ8soN35uzfk5L.ll3tMF32iej4a09-ARDV_m7ui7kXy2xKDy1YkuOdVzV8nveAT0tovOdd3vOxrahA5pwrMmPcKdD0kUxlrQcXkpvAFe-_b0RioPQbdFzDFbBdk9Wbf4INOY9_6V6Q02-9CeNDS7mDuooItRdX3CRsFgdp1MbTMoN_DWJcj4pzMKYshTNRZ9gcHrPOBoZ9xePHyJOedifjBlxIqGireF_EYSEVTHQ0XHMc94QhjSDZf1gISLVae3Mq0-lijwJW1Tlx8JTWdV_By9PPAU9vde4Ory-8K8y_pEhZ7bo2fg"}','queued',0,0,NULL,NULL,NULL,'2026-12-02 05:08:13.986605','2026-12-02 05:08:13.986605',NULL,NULL,NULL,NULL,'event');
INSERT INTO "mails" VALUES('42db82b2-a0ee-4ec9-9254-0829f186cb0a','10a9a8f6-df2f-403b-9893-ed4e051be19a','activation','user3@example.com','en','{"sealed": "fb2b184e.SOrXbME3S3ZzpPRH.5-RPiaohacocQAjkbs7wVzmodhLFeCKVorf7uM1LuPXZ6Ih7TR6KKsMI_2wFA58c_vx3pf6rcmcpgkPINXSXTjD_CwLinWg"}','retrying',2,0,NULL,'451 try later',NULL,'2026-12-02 05:08:13.986605','2026-12-02 05:08:14.001887','2026-12-02 05:13:14.001887',NULL,NULL,'2026-12-03 05:08:13.986605','mail');
INSERT INTO "mails" VALUES('856fa90f-51ec-4552-b66f-0d6f5ff63dc8','90d84eb6-c806-4cd5-b37f-b129dfb63f0a','account.registered','webhook:default','en','{"sealed": "fb2b184e.xy1omTQhmMjRXuEk.RkXW6qAapOQ0u9XIxjOePMX4hf-HvuEt1guIyRNYzKiOC1ssSMEv2Fw-HaCjnqSlJjaVCHzliYasypnpqcwIC33cCKCDeOnvgJUUE_q_7puTpIF4LJFjTX5UQtQgdOXrfwj9-9b_4XAqFK6huZsxVYEt36ygDyaa0kLsUfW6W7xEbWgUcyXrCQxHEvt4c1KMY-A-Bw6hl680wdZD7JxNYAXXJlLbmJJfrQPDZlBvVh3_6f9YgDnrtly4fNAQ9jaZJThEWs6x6z7qnpoTBa022slquG71MH4HqizEkg"}','queued',0,0,NULL,NULL,NULL,'2026-12-02 05:08:13.996905','2026-12-02 05:08:13.996905',NULL,NULL,NULL,NULL,'event');
INSERT INTO "mails" VALUES('3d9c21c3-0a04-483c-bea1-69b4a08b5ca2','90d84eb6-c806-4cd5-b37f-b129dfb63f0a','activation','user4@example.com','en','{}','dead',1,0,NULL,'550 no','rejected','2026-12-02 05:08:13.996905','2026-12-02 05:08:14.001887',NULL,NULL,NULL,'2026-12-03 05:08:13.996905','mail');
CREATE TABLE outbox (
	id INTEGER NOT NULL, 
	mail_id VARCHAR(36) NOT NULL, 
	"key" VARCHAR(320) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	available_at DATETIME NOT NULL, 
	lease_until DATETIME, 
	deliveries INTEGER NOT NULL, 
	dead_reason TEXT, 
	created_at DATETIME NOT NULL, trace VARCHAR(64), 
	CONSTRAINT pk_outbox PRIMARY KEY (id)
);
INSERT INTO "outbox" VALUES(1,'e5b22dcd-95ed-4c4a-9faf-d1bbdd1eef8c','event:b7c8887a-a71b-4dc0-a6d9-1a702d70a5fd','ready','2026-12-02 05:08:13.939534',NULL,0,NULL,'2026-12-02 05:08:13.939534',NULL);
INSERT INTO "outbox" VALUES(2,'094e7f32-3df2-4b9a-bd7a-1734644e018e','user0@example.com','ready','2026-12-02 05:08:13.939534',NULL,0,NULL,'2026-12-02 05:08:13.939534',NULL);
INSERT INTO "outbox" VALUES(3,'8dfb5fde-1eb7-4d2d-be42-df85877c81b9','event:7d1b22f7-caf0-4941-a575-54740bb1c22a','ready','2026-12-02 05:08:13.964408',NULL,0,NULL,'2026-12-02 05:08:13.964408',NULL);
INSERT INTO "outbox" VALUES(4,'36a58444-5eb1-4e2f-ada0-c9686ea7f57a','user1@example.com','ready','2026-12-02 05:08:13.964408',NULL,0,NULL,'2026-12-02 05:08:13.964408',NULL);
INSERT INTO "outbox" VALUES(5,'d525fb07-09bd-413b-8d63-b38b42d183be','event:0f997607-10a2-4c31-bca9-8a0b685e8aef','ready','2026-12-02 05:08:13.975964',NULL,0,NULL,'2026-12-02 05:08:13.975964',NULL);
INSERT INTO "outbox" VALUES(7,'0ce00a3c-1bf4-4eab-9fa0-0790d9c42fe4','event:10a9a8f6-df2f-403b-9893-ed4e051be19a','ready','2026-12-02 05:08:13.986605',NULL,0,NULL,'2026-12-02 05:08:13.986605',NULL);
INSERT INTO "outbox" VALUES(8,'42db82b2-a0ee-4ec9-9254-0829f186cb0a','user3@example.com','ready','2026-12-02 05:08:13.986605',NULL,0,NULL,'2026-12-02 05:08:13.986605',NULL);
INSERT INTO "outbox" VALUES(9,'856fa90f-51ec-4552-b66f-0d6f5ff63dc8','event:90d84eb6-c806-4cd5-b37f-b129dfb63f0a','ready','2026-12-02 05:08:13.996905',NULL,0,NULL,'2026-12-02 05:08:13.996905',NULL);
INSERT INTO "outbox" VALUES(10,'3d9c21c3-0a04-483c-bea1-69b4a08b5ca2','user4@example.com','ready','2026-12-02 05:08:13.996905',NULL,0,NULL,'2026-12-02 05:08:13.996905',NULL);
CREATE TABLE provider_pauses (
	worker VARCHAR(128) NOT NULL, 
	reason TEXT NOT NULL, 
	since DATETIME NOT NULL, 
	until DATETIME NOT NULL, 
	CONSTRAINT pk_provider_pauses PRIMARY KEY (worker)
);
INSERT INTO "provider_pauses" VALUES('host:1','refused','2026-12-02 05:08:14.001887','2026-12-02 05:09:14.001887');
CREATE TABLE sign_in_failures (
	"key" VARCHAR(64) NOT NULL, 
	failures INTEGER NOT NULL, 
	blocked_until DATETIME, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_sign_in_failures PRIMARY KEY ("key")
);
CREATE TABLE suppressions (
	address VARCHAR(320) NOT NULL, 
	reason TEXT NOT NULL, 
	mail_id VARCHAR(36), 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_suppressions PRIMARY KEY (address)
);
INSERT INTO "suppressions" VALUES('bounced@example.com','550 5.1.1 no such user',NULL,'2026-12-02 05:08:14.001887');
CREATE INDEX ix_outbox_status_available_at ON outbox (status, available_at);
CREATE INDEX ix_account_tokens_account_id_purpose ON account_tokens (account_id, purpose);
CREATE INDEX ix_mails_status_updated_at ON mails (status, updated_at);
CREATE INDEX ix_mails_recipient_created_at ON mails (recipient, created_at);
CREATE INDEX ix_mails_account_id_recipient_created_at ON mails (account_id, recipient, created_at);
COMMIT;

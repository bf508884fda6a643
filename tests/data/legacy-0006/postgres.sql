-- A regmail database at schema revision 0006 (before its tables were prefixed regmail_):
-- an account's sign-ups, mails queued/sending/sent/retrying/dead, events, a suppression and
-- a pause. Made with regmail at 39cd336..bc80711 and pg_dump --inserts.


SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

CREATE TABLE public.account_tokens (
    token_hash character varying(64) NOT NULL,
    account_id character varying(36) NOT NULL,
    purpose character varying(16) NOT NULL,
    password_hash character varying(255),
    new_email character varying(320),
    created_at timestamp with time zone NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    used_at timestamp with time zone
);

CREATE TABLE public.accounts (
    id character varying(36) NOT NULL,
    email character varying(320) NOT NULL,
    email_key character varying(320) NOT NULL,
    password_hash character varying(255) NOT NULL,
    status character varying(16) NOT NULL,
    locale character varying(16) NOT NULL,
    created_at timestamp with time zone NOT NULL,
    activated_at timestamp with time zone,
    failed_sign_ins integer DEFAULT 0 NOT NULL
);

CREATE TABLE public.address_requests (
    id integer NOT NULL,
    action character varying(16) NOT NULL,
    email character varying(320) NOT NULL,
    locale character varying(16) NOT NULL,
    created_at timestamp with time zone NOT NULL
);

CREATE SEQUENCE public.address_requests_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.address_requests_id_seq OWNED BY public.address_requests.id;

CREATE TABLE public.alembic_version (
    version_num character varying(32) NOT NULL
);

CREATE TABLE public.mails (
    id character varying(36) NOT NULL,
    account_id character varying(36),
    kind character varying(32) NOT NULL,
    recipient character varying(320) NOT NULL,
    locale character varying(16) NOT NULL,
    payload json NOT NULL,
    status character varying(16) NOT NULL,
    attempts integer NOT NULL,
    attempts_before_replay integer NOT NULL,
    replayed_at timestamp with time zone,
    last_reply text,
    dead_reason character varying(32),
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    next_attempt_at timestamp with time zone,
    sending_until timestamp with time zone,
    sent_at timestamp with time zone,
    expires_at timestamp with time zone,
    channel character varying(8) DEFAULT 'mail'::character varying NOT NULL
);

CREATE TABLE public.outbox (
    id integer NOT NULL,
    mail_id character varying(36) NOT NULL,
    key character varying(320) NOT NULL,
    status character varying(16) NOT NULL,
    available_at timestamp with time zone NOT NULL,
    lease_until timestamp with time zone,
    deliveries integer NOT NULL,
    dead_reason text,
    created_at timestamp with time zone NOT NULL,
    trace character varying(64)
);

CREATE SEQUENCE public.outbox_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.outbox_id_seq OWNED BY public.outbox.id;

CREATE TABLE public.provider_pauses (
    worker character varying(128) NOT NULL,
    reason text NOT NULL,
    since timestamp with time zone NOT NULL,
    until timestamp with time zone NOT NULL
);

CREATE TABLE public.sign_in_failures (
    key character varying(64) NOT NULL,
    failures integer NOT NULL,
    blocked_until timestamp with time zone,
    updated_at timestamp with time zone NOT NULL
);

CREATE TABLE public.suppressions (
    address character varying(320) NOT NULL,
    reason text NOT NULL,
    mail_id character varying(36),
    created_at timestamp with time zone NOT NULL
);

ALTER TABLE ONLY public.address_requests ALTER COLUMN id SET DEFAULT nextval('public.address_requests_id_seq'::regclass);

ALTER TABLE ONLY public.outbox ALTER COLUMN id SET DEFAULT nextval('public.outbox_id_seq'::regclass);

INSERT INTO public.account_tokens VALUES ('30036d960c3cbb03f81b36e4cb283690972c350424ceb2902a3d72d659074c70', 'f4a27212-c752-42da-a282-e413e16919aa', 'activation', '$argon2id$v=19$m=8192,t=1,p=1$d8hfj1ISiPHofEFowJOmcg$6CVDre9eDSnHgKNWB35aBn+11kJrc1Sesa8rUWpqaDo', NULL, '2026-12-02 05:08:18.360458+00', '2026-12-03 05:08:18.360458+00', NULL);
INSERT INTO public.account_tokens VALUES ('806f3d3860356af6a47b6a931add4c042357f33ffff22b7a91012b26d936a7f2', '5c2b98c9-7e78-4d8f-88bc-90a375dc3b84', 'activation', '$argon2id$v=19$m=8192,t=1,p=1$43bJlwWITYbfomnOYyjnMA$gGzmXMxiX6FFatCuyLyUrsN5OphUv9GNllmmBPYHSyA', NULL, '2026-12-02 05:08:18.395753+00', '2026-12-03 05:08:18.395753+00', NULL);
INSERT INTO public.account_tokens VALUES ('cc96eab758893cafd02f94654a7def350d768a76a9c818d4bf0f8369a86bb22a', '73c82553-485c-4f41-b59a-4c428745d8b1', 'activation', '$argon2id$v=19$m=8192,t=1,p=1$CPKebJbG+z2HVb1cGyWNoQ$58YDzJ25X0aO62gnCA5CT24zrhN31VIR92lYH3y1EAI', NULL, '2026-12-02 05:08:18.414929+00', '2026-12-03 05:08:18.414929+00', NULL);
INSERT INTO public.account_tokens VALUES ('f97810abe73975bdbe9d5326f4de24b74ef910c5ff7231db3b5b38607cbda356', '253c5959-3e2c-41aa-8361-beb99a7dd773', 'activation', '$argon2id$v=19$m=8192,t=1,p=1$3RNRs0KPrjI+r9o4al3Ebg$F+fmmSt81aJf6hMxDvcWKqqFIr0rYCgFYx8Req3pl1E', NULL, '2026-12-02 05:08:18.433796+00', '2026-12-03 05:08:18.433796+00', NULL);
INSERT INTO public.account_tokens VALUES ('552e16ddbb068d3619fb5f58a71258e3a70824a7cda8f1e952098980a978f488', 'e4336a28-015d-4668-a166-3c38b0050bcd', 'activation', '$argon2id$v=19$m=8192,t=1,p=1$kGzVYX3Odsw37FGj6fDAtA$Vf38K6Np5k7NKWTACF/GkSCt1RqLMofkgD1o6Rlk4xk', NULL, '2026-12-02 05:08:18.453699+00', '2026-12-03 05:08:18.453699+00', NULL);

INSERT INTO public.accounts VALUES ('f4a27212-c752-42da-a282-e413e16919aa', 'user0@example.com', 'user0@example.com', '$argon2id$v=19$m=8192,t=1,p=1$d8hfj1ISiPHofEFowJOmcg$6CVDre9eDSnHgKNWB35aBn+11kJrc1Sesa8rUWpqaDo', 'pending', 'en', '2026-12-02 05:08:18.360458+00', NULL, 0);
INSERT INTO public.accounts VALUES ('5c2b98c9-7e78-4d8f-88bc-90a375dc3b84', 'user1@example.com', 'user1@example.com', '$argon2id$v=19$m=8192,t=1,p=1$43bJlwWITYbfomnOYyjnMA$gGzmXMxiX6FFatCuyLyUrsN5OphUv9GNllmmBPYHSyA', 'pending', 'en', '2026-12-02 05:08:18.395753+00', NULL, 0);
INSERT INTO public.accounts VALUES ('73c82553-485c-4f41-b59a-4c428745d8b1', 'user2@example.com', 'user2@example.com', '$argon2id$v=19$m=8192,t=1,p=1$CPKebJbG+z2HVb1cGyWNoQ$58YDzJ25X0aO62gnCA5CT24zrhN31VIR92lYH3y1EAI', 'pending', 'en', '2026-12-02 05:08:18.414929+00', NULL, 0);
INSERT INTO public.accounts VALUES ('253c5959-3e2c-41aa-8361-beb99a7dd773', 'user3@example.com', 'user3@example.com', '$argon2id$v=19$m=8192,t=1,p=1$3RNRs0KPrjI+r9o4al3Ebg$F+fmmSt81aJf6hMxDvcWKqqFIr0rYCgFYx8Req3pl1E', 'pending', 'en', '2026-12-02 05:08:18.433796+00', NULL, 0);
INSERT INTO public.accounts VALUES ('e4336a28-015d-4668-a166-3c38b0050bcd', 'user4@example.com', 'user4@example.com', '$argon2id$v=19$m=8192,t=1,p=1$kGzVYX3Odsw37FGj6fDAtA$Vf38K6Np5k7NKWTACF/GkSCt1RqLMofkgD1o6Rlk4xk', 'pending', 'en', '2026-12-02 05:08:18.453699+00', NULL, 0);

INSERT INTO public.alembic_version VALUES ('0006');

INSERT INTO public.mails VALUES ('e46eddcc-0062-4e32-853d-2a6a24cc055c', 'f4a27212-c752-42da-a282-e413e16919aa', 'account.registered', 'webhook:default', 'en', '{"sealed": "fb2b184e.iq5NxL16oMuycHSx.2iCHvlQjEacUpk5nuY9_lVghj0OptzEdbgS6vvXneCvPe-EjUxmJNZFZZIm4s0zC7PRxl9rD449mzymy62ZCw_SWcdo-9H_vahyq44-feIxP9k72bPl2ksdMa-CUMaO4Lag_8XQVG7gKICb-jfaV9W2e7_vWbuoLynagCMjV4JXQF1mu9WZeF9KnXDnUTRulTMXDd7E8be_aCQcfmjnW7JW8qln3SJ-MihCkrlopUE53D17MYNFR-bWxH52rEZ0WTtChpJ3fpK_h-9LTxAy5SB97ApPae88NbFpQjA"}', 'queued', 0, 0, NULL, NULL, NULL, '2026-12-02 05:08:18.360458+00', '2026-12-02 05:08:18.360458+00', NULL, NULL, NULL, NULL, 'event');
INSERT INTO public.mails VALUES ('c902f72e-075d-4b3e-a9d8-e2bfcd5f413c', '5c2b98c9-7e78-4d8f-88bc-90a375dc3b84', 'account.registered', 'webhook:default', 'en', '{"sealed": "fb2b184e.mZ-i5vn1jglpSGNa.1UytvmqT7UJvgrV3_xg2p-uG-AL2131KtR0LVG_jvTmlUp3QCDK__pPGpS1l-Gv5QfwFrW70FZyCu-DQb-5KWqQeD8oUD9LDbnadCFNWvrvoSlO2DNJ6rkLF9dz3cOg49LEWS087JyoTkGbEc1tw6u2hkf2TB6LHGDOkKkzFCKGArO0gtS63tIOIraYxQ6wKh__S6_VZg_Ju_JQzxD2h0Ejs1zykpt0Gj1aPDRSjVOXaCpaAn0LAyyOyM86wgM8UhuFQb7HMXtaa7v0dJamqQPOKNzCgX1NuhQRUuQ"}', 'queued', 0, 0, NULL, NULL, NULL, '2026-12-02 05:08:18.395753+00', '2026-12-02 05:08:18.395753+00', NULL, NULL, NULL, NULL, 'event');
INSERT INTO public.mails VALUES ('d4baca45-80a6-4408-9349-91ab9b46eb08', '73c82553-485c-4f41-b59a-4c428745d8b1', 'account.registered', 'webhook:default', 'en', '{"sealed": "fb2b184e.itCOtzRJzNLfGLsC.HQJ7ZN5Hj7jGcWTam5Nlc-vSUqkM0McN3MeqvdzxrweOAe50_g9fVzRkaez485J1mIpl7EkGIdQoYXTzNly27LTA31J-dUot5f5_WVntFJN63YAZYmN-yOfRyy7b_8CFFs6CVbVO-L1QTcgwzjNOU0tDjnsz453OTij9qPbpaGO-xbLQh0anlnHH-JNWZRP6Tz0XL-I69fG_BYNlGG2LAVvl6iWse9Up5BRaM1zEx9eC9fQNAlgn2-BmtAAi1zuuZhXNyPYxNoo79PqpL2seJsGVfCKGcFZqr2O7FQ"}', 'queued', 0, 0, NULL, NULL, NULL, '2026-12-02 05:08:18.414929+00', '2026-12-02 05:08:18.414929+00', NULL, NULL, NULL, NULL, 'event');
INSERT INTO public.mails VALUES ('27ac9413-f0b4-4ba9-85a9-d053170c64a1', '253c5959-3e2c-41aa-8361-beb99a7dd773', 'account.registered', 'webhook:default', 'en', '{"sealed": "fb2b184e.EO-nQKQvvKGbD2Z4.tPCdkZs7J70iF89gIEiQsyxP5jJUdcfEfhzKyBWuBGMOPyEihxe-_jMfbCPGYVpslPnJ85aquhEvL_D036j_ibfTP1Tw-LeswdhH45EwdKzWRxV2wqYMm_2rbFUHQekcetLhWAGitjFg3rUCgzKrCElcEkvnmzD23kUpAahgGtHKiuZbNNLS4B6ZtXEh2VhP31vVOKG_wACCecA7y_-dhSN1d6-9uYkZuFw6DwjqCGIoVkTlVmQtcdWwuxjD9WgZQrULDlu-O63PdpprBae_cNsJh-TxTkQcqHRAUg"}', 'queued', 0, 0, NULL, NULL, NULL, '2026-12-02 05:08:18.433796+00', '2026-12-02 05:08:18.433796+00', NULL, NULL, NULL, NULL, 'event');
INSERT INTO public.mails VALUES ('234b81bf-c0e9-49ae-8d7a-95c74ad7c810', 'e4336a28-015d-4668-a166-3c38b0050bcd', 'account.registered', 'webhook:default', 'en', '{"sealed": "fb2b184e.PSPKWn0KPSJJ1pbP.Zf-nn-oCUXoQhfOySVnaYMpdKwOfByACXDJhs7FsGCo-rA0VN3b1jABI6iEZCIXQqDmDIx0s1ebvEhn2gqs9W7I2kYkSLweiQbLob5rbzeOnawomlaMseC5jhh6WxZ4FmpPY1CyjIZ3diqwp6inpU3k8dA2Cd__52MUuVadRWfr_m_RUspjlnHAocDgob5H-Oao2BwK9F9ETpFkTxNQ5iMIbOmKlIl2we6lG_LCx8e61vo3x4a6oAAkKF6JDf8Ermpk-JMEYT5GDDuiFNKMnQbX-7PO0Og9QjjFgmQ"}', 'queued', 0, 0, NULL, NULL, NULL, '2026-12-02 05:08:18.453699+00', '2026-12-02 05:08:18.453699+00', NULL, NULL, NULL, NULL, 'event');
INSERT INTO public.mails VALUES ('af17a7da-05e7-40b7-b73a-819f8cd243e3', 'f4a27212-c752-42da-a282-e413e16919aa', 'activation', 'user0@example.com', 'en', '{"sealed": "fb2b184e.7A0W0EAL0aSK4XRC.j5fZmCb83LRZVRk_YwYxKd-hfSvXlZm254O9sgc8dIrVMAfX7r-17pJudohpHpfKsf2kx957P25jIsStpd8NOP0a273q9Oo"}', 'queued', 0, 0, NULL, NULL, NULL, '2026-12-02 05:08:18.360458+00', '2026-12-02 05:08:18.465652+00', NULL, NULL, NULL, '2026-12-03 05:08:18.360458+00', 'mail');
INSERT INTO public.mails VALUES ('21f33ec7-ea9a-4704-926e-fe9ec36406d1', '5c2b98c9-7e78-4d8f-88bc-90a375dc3b84', 'activation', 'user1@example.com', 'en', '{"sealed": "fb2b184e.WsNKHPJhaV7k1B-Z.GnDONizFtZXeJQDkx37KsjMHa-VRrxOTzal3UNU4xagbUO0sO9crzcOssjPBXE-ilkc710Vv_FPirC0tjP3-iGE0h_qedh0"}', 'sending', 0, 0, NULL, NULL, NULL, '2026-12-02 05:08:18.395753+00', '2026-12-02 05:08:18.465652+00', NULL, NULL, NULL, '2026-12-03 05:08:18.395753+00', 'mail');
INSERT INTO public.mails VALUES ('9e79cd67-286b-4c21-b4e7-9dc4e75084d1', '73c82553-485c-4f41-b59a-4c428745d8b1', 'activation', 'user2@example.com', 'en', '{}', 'sent', 1, 0, NULL, NULL, NULL, '2026-12-02 05:08:18.414929+00', '2026-12-02 05:08:18.465652+00', NULL, NULL, '2026-12-02 05:08:18.465652+00', '2026-12-03 05:08:18.414929+00', 'mail');
INSERT INTO public.mails VALUES ('ae49b0d5-94ff-4790-992d-7b68a9431182', '253c5959-3e2c-41aa-8361-beb99a7dd773', 'activation', 'user3@example.com', 'en', '{"sealed": "fb2b184e.ezKQhmns1d8gMeu1.ee5JNOwbpI0GtY2U8ZrSe7Vyrtub86vujryAtm3IXoXT0gOOCrZZVw-gv3hYUBiz7Z9AE8nYcmkZjFq_adMmqXElcDrKkLg"}', 'retrying', 2, 0, NULL, '451 try later', NULL, '2026-12-02 05:08:18.433796+00', '2026-12-02 05:08:18.465652+00', '2026-12-02 05:13:18.465652+00', NULL, NULL, '2026-12-03 05:08:18.433796+00', 'mail');
INSERT INTO public.mails VALUES ('844cd638-b106-4467-9050-5025d65cde64', 'e4336a28-015d-4668-a166-3c38b0050bcd', 'activation', 'user4@example.com', 'en', '{}', 'dead', 1, 0, NULL, '550 no', 'rejected', '2026-12-02 05:08:18.453699+00', '2026-12-02 05:08:18.465652+00', NULL, NULL, NULL, '2026-12-03 05:08:18.453699+00', 'mail');

INSERT INTO public.outbox VALUES (1, 'e46eddcc-0062-4e32-853d-2a6a24cc055c', 'event:f4a27212-c752-42da-a282-e413e16919aa', 'ready', '2026-12-02 05:08:18.360458+00', NULL, 0, NULL, '2026-12-02 05:08:18.360458+00', NULL);
INSERT INTO public.outbox VALUES (2, 'af17a7da-05e7-40b7-b73a-819f8cd243e3', 'user0@example.com', 'ready', '2026-12-02 05:08:18.360458+00', NULL, 0, NULL, '2026-12-02 05:08:18.360458+00', NULL);
INSERT INTO public.outbox VALUES (3, 'c902f72e-075d-4b3e-a9d8-e2bfcd5f413c', 'event:5c2b98c9-7e78-4d8f-88bc-90a375dc3b84', 'ready', '2026-12-02 05:08:18.395753+00', NULL, 0, NULL, '2026-12-02 05:08:18.395753+00', NULL);
INSERT INTO public.outbox VALUES (4, '21f33ec7-ea9a-4704-926e-fe9ec36406d1', 'user1@example.com', 'ready', '2026-12-02 05:08:18.395753+00', NULL, 0, NULL, '2026-12-02 05:08:18.395753+00', NULL);
INSERT INTO public.outbox VALUES (5, 'd4baca45-80a6-4408-9349-91ab9b46eb08', 'event:73c82553-485c-4f41-b59a-4c428745d8b1', 'ready', '2026-12-02 05:08:18.414929+00', NULL, 0, NULL, '2026-12-02 05:08:18.414929+00', NULL);
INSERT INTO public.outbox VALUES (7, '27ac9413-f0b4-4ba9-85a9-d053170c64a1', 'event:253c5959-3e2c-41aa-8361-beb99a7dd773', 'ready', '2026-12-02 05:08:18.433796+00', NULL, 0, NULL, '2026-12-02 05:08:18.433796+00', NULL);
INSERT INTO public.outbox VALUES (8, 'ae49b0d5-94ff-4790-992d-7b68a9431182', 'user3@example.com', 'ready', '2026-12-02 05:08:18.433796+00', NULL, 0, NULL, '2026-12-02 05:08:18.433796+00', NULL);
INSERT INTO public.outbox VALUES (9, '234b81bf-c0e9-49ae-8d7a-95c74ad7c810', 'event:e4336a28-015d-4668-a166-3c38b0050bcd', 'ready', '2026-12-02 05:08:18.453699+00', NULL, 0, NULL, '2026-12-02 05:08:18.453699+00', NULL);
INSERT INTO public.outbox VALUES (10, '844cd638-b106-4467-9050-5025d65cde64', 'user4@example.com', 'ready', '2026-12-02 05:08:18.453699+00', NULL, 0, NULL, '2026-12-02 05:08:18.453699+00', NULL);

INSERT INTO public.provider_pauses VALUES ('host:1', 'refused', '2026-12-02 05:08:18.465652+00', '2026-12-02 05:09:18.465652+00');

INSERT INTO public.suppressions VALUES ('bounced@example.com', '550 5.1.1 no such user', NULL, '2026-12-02 05:08:18.465652+00');

SELECT pg_catalog.setval('public.address_requests_id_seq', 1, false);

SELECT pg_catalog.setval('public.outbox_id_seq', 10, true);

ALTER TABLE ONLY public.alembic_version
    ADD CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num);

ALTER TABLE ONLY public.account_tokens
    ADD CONSTRAINT pk_account_tokens PRIMARY KEY (token_hash);

ALTER TABLE ONLY public.accounts
    ADD CONSTRAINT pk_accounts PRIMARY KEY (id);

ALTER TABLE ONLY public.address_requests
    ADD CONSTRAINT pk_address_requests PRIMARY KEY (id);

ALTER TABLE ONLY public.mails
    ADD CONSTRAINT pk_mails PRIMARY KEY (id);

ALTER TABLE ONLY public.outbox
    ADD CONSTRAINT pk_outbox PRIMARY KEY (id);

ALTER TABLE ONLY public.provider_pauses
    ADD CONSTRAINT pk_provider_pauses PRIMARY KEY (worker);

ALTER TABLE ONLY public.sign_in_failures
    ADD CONSTRAINT pk_sign_in_failures PRIMARY KEY (key);

ALTER TABLE ONLY public.suppressions
    ADD CONSTRAINT pk_suppressions PRIMARY KEY (address);

ALTER TABLE ONLY public.accounts
    ADD CONSTRAINT uq_accounts_email_key UNIQUE (email_key);

CREATE INDEX ix_account_tokens_account_id_purpose ON public.account_tokens USING btree (account_id, purpose);

CREATE INDEX ix_mails_account_id_recipient_created_at ON public.mails USING btree (account_id, recipient, created_at);

CREATE INDEX ix_mails_recipient_created_at ON public.mails USING btree (recipient, created_at);

CREATE INDEX ix_mails_status_updated_at ON public.mails USING btree (status, updated_at);

CREATE INDEX ix_outbox_status_available_at ON public.outbox USING btree (status, available_at);

ALTER TABLE ONLY public.account_tokens
    ADD CONSTRAINT fk_account_tokens_account_id_accounts FOREIGN KEY (account_id) REFERENCES public.accounts(id);



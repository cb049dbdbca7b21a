-- revision: 0005_decision_lists

CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

CREATE TABLE decisions (
	id CHAR(32) NOT NULL, 
	created_at DATETIME NOT NULL, 
	tenant VARCHAR, 
	end_user VARCHAR, 
	task_type VARCHAR(32) NOT NULL, 
	budget VARCHAR(16) NOT NULL, 
	region VARCHAR(16) NOT NULL, 
	requires_sla BOOLEAN NOT NULL, 
	requires_compliance BOOLEAN NOT NULL, 
	input_tokens INTEGER NOT NULL, 
	output_tokens INTEGER NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	strategy VARCHAR(32), 
	primary_provider VARCHAR, 
	primary_model VARCHAR, 
	chain JSON NOT NULL, 
	excluded JSON NOT NULL, 
	estimated_cost_usd BIGINT, 
	baseline_cost_usd BIGINT, 
	idempotency_key VARCHAR, 
	variant VARCHAR, chain_set VARCHAR(64), excluded_set VARCHAR(64), 
	CONSTRAINT pk_decisions PRIMARY KEY (id)
);

CREATE INDEX ix_decisions_created_at ON decisions (created_at);

CREATE INDEX ix_decisions_tenant_created_at ON decisions (tenant, created_at);

CREATE UNIQUE INDEX uq_decisions_tenant_idempotency_key ON decisions (tenant, idempotency_key);

CREATE TABLE attempts (
	id CHAR(32) NOT NULL, 
	decision_id CHAR(32) NOT NULL, 
	attempt_order INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	provider VARCHAR NOT NULL, 
	model VARCHAR NOT NULL, 
	outcome VARCHAR(16) NOT NULL, 
	task_type VARCHAR(32) NOT NULL, 
	tenant VARCHAR, 
	region VARCHAR(16), 
	latency_ms FLOAT NOT NULL, 
	error_class VARCHAR, 
	status_code INTEGER, 
	input_tokens INTEGER NOT NULL, 
	output_tokens INTEGER NOT NULL, 
	cached_tokens INTEGER NOT NULL, 
	reasoning_tokens INTEGER NOT NULL, 
	cost_usd BIGINT NOT NULL, 
	baseline_cost_usd BIGINT NOT NULL, 
	cost_estimated BOOLEAN NOT NULL, 
	quality_score FLOAT, 
	is_fallback BOOLEAN NOT NULL, 
	CONSTRAINT pk_attempts PRIMARY KEY (id)
);

CREATE INDEX ix_attempts_created_at ON attempts (created_at);

CREATE INDEX ix_attempts_provider_created_at ON attempts (provider, created_at);

CREATE INDEX ix_attempts_tenant_created_at ON attempts (tenant, created_at);

CREATE INDEX ix_attempts_decision_id ON attempts (decision_id);

CREATE TABLE health_snapshots (
	id CHAR(32) NOT NULL, 
	created_at DATETIME NOT NULL, 
	provider VARCHAR NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	success_rate FLOAT NOT NULL, 
	consecutive_failures INTEGER NOT NULL, 
	mean_latency_ms FLOAT NOT NULL, 
	requests INTEGER NOT NULL, 
	CONSTRAINT pk_health_snapshots PRIMARY KEY (id)
);

CREATE INDEX ix_health_snapshots_created_at ON health_snapshots (created_at);

CREATE INDEX ix_health_snapshots_provider_created_at ON health_snapshots (provider, created_at);

CREATE TABLE tenants (
	id CHAR(32) NOT NULL, 
	name VARCHAR NOT NULL, 
	default_budget VARCHAR(16) NOT NULL, 
	daily_soft_limit_usd BIGINT, 
	daily_hard_limit_usd BIGINT, 
	monthly_soft_limit_usd BIGINT, 
	monthly_hard_limit_usd BIGINT, 
	downgrade_on_budget BOOLEAN NOT NULL, 
	store_prompts BOOLEAN NOT NULL, 
	rate_limit_rpm INTEGER, 
	rate_limit_tpm INTEGER, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_tenants PRIMARY KEY (id), 
	CONSTRAINT uq_tenants_name UNIQUE (name)
);

CREATE TABLE api_keys (
	id CHAR(32) NOT NULL, 
	tenant_id CHAR(32) NOT NULL, 
	prefix VARCHAR(32) NOT NULL, 
	key_hash VARCHAR NOT NULL, 
	name VARCHAR, 
	scopes JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	revoked_at DATETIME, 
	last_used_at DATETIME, 
	CONSTRAINT pk_api_keys PRIMARY KEY (id), 
	CONSTRAINT fk_api_keys_tenant_id_tenants FOREIGN KEY(tenant_id) REFERENCES tenants (id) ON DELETE CASCADE, 
	CONSTRAINT uq_api_keys_prefix UNIQUE (prefix)
);

CREATE INDEX ix_api_keys_tenant_id ON api_keys (tenant_id);

CREATE TABLE feedback (
	id CHAR(32) NOT NULL, 
	decision_id CHAR(32) NOT NULL, 
	tenant VARCHAR, 
	score FLOAT, 
	thumbs SMALLINT, 
	comment TEXT, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_feedback PRIMARY KEY (id)
);

CREATE INDEX ix_feedback_decision_id ON feedback (decision_id);

CREATE INDEX ix_feedback_tenant_created_at ON feedback (tenant, created_at);

CREATE TABLE budget_usage (
	tenant_id CHAR(32) NOT NULL, 
	period VARCHAR(16) NOT NULL, 
	spent_usd BIGINT NOT NULL, 
	reserved_usd BIGINT NOT NULL, 
	soft_alerted_at DATETIME, 
	updated_at DATETIME NOT NULL, 
	CONSTRAINT pk_budget_usage PRIMARY KEY (tenant_id, period), 
	CONSTRAINT fk_budget_usage_tenant_id_tenants FOREIGN KEY(tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);

CREATE TABLE budget_reservations (
	id CHAR(32) NOT NULL, 
	tenant_id CHAR(32) NOT NULL, 
	decision_id CHAR(32), 
	day_period VARCHAR(16) NOT NULL, 
	month_period VARCHAR(16) NOT NULL, 
	amount_usd BIGINT NOT NULL, 
	actual_usd BIGINT, 
	state VARCHAR(16) NOT NULL, 
	created_at DATETIME NOT NULL, 
	expires_at DATETIME NOT NULL, 
	settled_at DATETIME, 
	CONSTRAINT pk_budget_reservations PRIMARY KEY (id), 
	CONSTRAINT fk_budget_reservations_tenant_id_tenants FOREIGN KEY(tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);

CREATE INDEX ix_budget_reservations_state_expires_at ON budget_reservations (state, expires_at);

CREATE INDEX ix_budget_reservations_tenant_id_created_at ON budget_reservations (tenant_id, created_at);

CREATE TABLE analytics_attempts_hourly (
	bucket DATETIME NOT NULL, 
	provider VARCHAR NOT NULL, 
	model VARCHAR NOT NULL, 
	task_type VARCHAR NOT NULL, 
	tenant VARCHAR NOT NULL, 
	requests BIGINT DEFAULT 0 NOT NULL, 
	calls BIGINT DEFAULT 0 NOT NULL, 
	successes BIGINT DEFAULT 0 NOT NULL, 
	errors BIGINT DEFAULT 0 NOT NULL, 
	timeouts BIGINT DEFAULT 0 NOT NULL, 
	rate_limited BIGINT DEFAULT 0 NOT NULL, 
	skipped BIGINT DEFAULT 0 NOT NULL, 
	fallback_calls BIGINT DEFAULT 0 NOT NULL, 
	fallback_successes BIGINT DEFAULT 0 NOT NULL, 
	latency_sum_ms FLOAT DEFAULT 0 NOT NULL, 
	quality_sum FLOAT DEFAULT 0 NOT NULL, 
	quality_count BIGINT DEFAULT 0 NOT NULL, 
	input_tokens BIGINT DEFAULT 0 NOT NULL, 
	output_tokens BIGINT DEFAULT 0 NOT NULL, 
	cost_usd BIGINT DEFAULT 0 NOT NULL, 
	baseline_cost_usd BIGINT DEFAULT 0 NOT NULL, 
	estimated_costs BIGINT DEFAULT 0 NOT NULL, 
	h00 BIGINT DEFAULT 0 NOT NULL, 
	h01 BIGINT DEFAULT 0 NOT NULL, 
	h02 BIGINT DEFAULT 0 NOT NULL, 
	h03 BIGINT DEFAULT 0 NOT NULL, 
	h04 BIGINT DEFAULT 0 NOT NULL, 
	h05 BIGINT DEFAULT 0 NOT NULL, 
	h06 BIGINT DEFAULT 0 NOT NULL, 
	h07 BIGINT DEFAULT 0 NOT NULL, 
	h08 BIGINT DEFAULT 0 NOT NULL, 
	h09 BIGINT DEFAULT 0 NOT NULL, 
	h10 BIGINT DEFAULT 0 NOT NULL, 
	h11 BIGINT DEFAULT 0 NOT NULL, 
	h12 BIGINT DEFAULT 0 NOT NULL, 
	h13 BIGINT DEFAULT 0 NOT NULL, 
	h14 BIGINT DEFAULT 0 NOT NULL, 
	h15 BIGINT DEFAULT 0 NOT NULL, 
	h16 BIGINT DEFAULT 0 NOT NULL, 
	h17 BIGINT DEFAULT 0 NOT NULL, 
	h18 BIGINT DEFAULT 0 NOT NULL, 
	h19 BIGINT DEFAULT 0 NOT NULL, 
	h20 BIGINT DEFAULT 0 NOT NULL, 
	h21 BIGINT DEFAULT 0 NOT NULL, 
	h22 BIGINT DEFAULT 0 NOT NULL, 
	h23 BIGINT DEFAULT 0 NOT NULL, 
	h24 BIGINT DEFAULT 0 NOT NULL, 
	h25 BIGINT DEFAULT 0 NOT NULL, 
	h26 BIGINT DEFAULT 0 NOT NULL, 
	h27 BIGINT DEFAULT 0 NOT NULL, 
	h28 BIGINT DEFAULT 0 NOT NULL, 
	h29 BIGINT DEFAULT 0 NOT NULL, 
	h30 BIGINT DEFAULT 0 NOT NULL, 
	h31 BIGINT DEFAULT 0 NOT NULL, 
	h32 BIGINT DEFAULT 0 NOT NULL, 
	h33 BIGINT DEFAULT 0 NOT NULL, 
	h34 BIGINT DEFAULT 0 NOT NULL, 
	h35 BIGINT DEFAULT 0 NOT NULL, 
	h36 BIGINT DEFAULT 0 NOT NULL, 
	h37 BIGINT DEFAULT 0 NOT NULL, 
	h38 BIGINT DEFAULT 0 NOT NULL, 
	h39 BIGINT DEFAULT 0 NOT NULL, 
	h40 BIGINT DEFAULT 0 NOT NULL, 
	h41 BIGINT DEFAULT 0 NOT NULL, 
	h42 BIGINT DEFAULT 0 NOT NULL, 
	h43 BIGINT DEFAULT 0 NOT NULL, 
	h44 BIGINT DEFAULT 0 NOT NULL, 
	h45 BIGINT DEFAULT 0 NOT NULL, 
	h46 BIGINT DEFAULT 0 NOT NULL, 
	h47 BIGINT DEFAULT 0 NOT NULL, 
	h48 BIGINT DEFAULT 0 NOT NULL, 
	h49 BIGINT DEFAULT 0 NOT NULL, 
	h50 BIGINT DEFAULT 0 NOT NULL, 
	h51 BIGINT DEFAULT 0 NOT NULL, 
	h52 BIGINT DEFAULT 0 NOT NULL, 
	h53 BIGINT DEFAULT 0 NOT NULL, 
	h54 BIGINT DEFAULT 0 NOT NULL, 
	h55 BIGINT DEFAULT 0 NOT NULL, 
	h56 BIGINT DEFAULT 0 NOT NULL, 
	h57 BIGINT DEFAULT 0 NOT NULL, 
	h58 BIGINT DEFAULT 0 NOT NULL, 
	h59 BIGINT DEFAULT 0 NOT NULL, 
	h60 BIGINT DEFAULT 0 NOT NULL, 
	h61 BIGINT DEFAULT 0 NOT NULL, 
	h62 BIGINT DEFAULT 0 NOT NULL, 
	h63 BIGINT DEFAULT 0 NOT NULL, 
	h64 BIGINT DEFAULT 0 NOT NULL, 
	h65 BIGINT DEFAULT 0 NOT NULL, 
	CONSTRAINT pk_analytics_attempts_hourly PRIMARY KEY (bucket, provider, model, task_type, tenant)
);

CREATE INDEX ix_analytics_attempts_hourly_tenant_bucket ON analytics_attempts_hourly (tenant, bucket);

CREATE TABLE analytics_attempts_daily (
	bucket DATETIME NOT NULL, 
	provider VARCHAR NOT NULL, 
	model VARCHAR NOT NULL, 
	task_type VARCHAR NOT NULL, 
	tenant VARCHAR NOT NULL, 
	requests BIGINT DEFAULT 0 NOT NULL, 
	calls BIGINT DEFAULT 0 NOT NULL, 
	successes BIGINT DEFAULT 0 NOT NULL, 
	errors BIGINT DEFAULT 0 NOT NULL, 
	timeouts BIGINT DEFAULT 0 NOT NULL, 
	rate_limited BIGINT DEFAULT 0 NOT NULL, 
	skipped BIGINT DEFAULT 0 NOT NULL, 
	fallback_calls BIGINT DEFAULT 0 NOT NULL, 
	fallback_successes BIGINT DEFAULT 0 NOT NULL, 
	latency_sum_ms FLOAT DEFAULT 0 NOT NULL, 
	quality_sum FLOAT DEFAULT 0 NOT NULL, 
	quality_count BIGINT DEFAULT 0 NOT NULL, 
	input_tokens BIGINT DEFAULT 0 NOT NULL, 
	output_tokens BIGINT DEFAULT 0 NOT NULL, 
	cost_usd BIGINT DEFAULT 0 NOT NULL, 
	baseline_cost_usd BIGINT DEFAULT 0 NOT NULL, 
	estimated_costs BIGINT DEFAULT 0 NOT NULL, 
	h00 BIGINT DEFAULT 0 NOT NULL, 
	h01 BIGINT DEFAULT 0 NOT NULL, 
	h02 BIGINT DEFAULT 0 NOT NULL, 
	h03 BIGINT DEFAULT 0 NOT NULL, 
	h04 BIGINT DEFAULT 0 NOT NULL, 
	h05 BIGINT DEFAULT 0 NOT NULL, 
	h06 BIGINT DEFAULT 0 NOT NULL, 
	h07 BIGINT DEFAULT 0 NOT NULL, 
	h08 BIGINT DEFAULT 0 NOT NULL, 
	h09 BIGINT DEFAULT 0 NOT NULL, 
	h10 BIGINT DEFAULT 0 NOT NULL, 
	h11 BIGINT DEFAULT 0 NOT NULL, 
	h12 BIGINT DEFAULT 0 NOT NULL, 
	h13 BIGINT DEFAULT 0 NOT NULL, 
	h14 BIGINT DEFAULT 0 NOT NULL, 
	h15 BIGINT DEFAULT 0 NOT NULL, 
	h16 BIGINT DEFAULT 0 NOT NULL, 
	h17 BIGINT DEFAULT 0 NOT NULL, 
	h18 BIGINT DEFAULT 0 NOT NULL, 
	h19 BIGINT DEFAULT 0 NOT NULL, 
	h20 BIGINT DEFAULT 0 NOT NULL, 
	h21 BIGINT DEFAULT 0 NOT NULL, 
	h22 BIGINT DEFAULT 0 NOT NULL, 
	h23 BIGINT DEFAULT 0 NOT NULL, 
	h24 BIGINT DEFAULT 0 NOT NULL, 
	h25 BIGINT DEFAULT 0 NOT NULL, 
	h26 BIGINT DEFAULT 0 NOT NULL, 
	h27 BIGINT DEFAULT 0 NOT NULL, 
	h28 BIGINT DEFAULT 0 NOT NULL, 
	h29 BIGINT DEFAULT 0 NOT NULL, 
	h30 BIGINT DEFAULT 0 NOT NULL, 
	h31 BIGINT DEFAULT 0 NOT NULL, 
	h32 BIGINT DEFAULT 0 NOT NULL, 
	h33 BIGINT DEFAULT 0 NOT NULL, 
	h34 BIGINT DEFAULT 0 NOT NULL, 
	h35 BIGINT DEFAULT 0 NOT NULL, 
	h36 BIGINT DEFAULT 0 NOT NULL, 
	h37 BIGINT DEFAULT 0 NOT NULL, 
	h38 BIGINT DEFAULT 0 NOT NULL, 
	h39 BIGINT DEFAULT 0 NOT NULL, 
	h40 BIGINT DEFAULT 0 NOT NULL, 
	h41 BIGINT DEFAULT 0 NOT NULL, 
	h42 BIGINT DEFAULT 0 NOT NULL, 
	h43 BIGINT DEFAULT 0 NOT NULL, 
	h44 BIGINT DEFAULT 0 NOT NULL, 
	h45 BIGINT DEFAULT 0 NOT NULL, 
	h46 BIGINT DEFAULT 0 NOT NULL, 
	h47 BIGINT DEFAULT 0 NOT NULL, 
	h48 BIGINT DEFAULT 0 NOT NULL, 
	h49 BIGINT DEFAULT 0 NOT NULL, 
	h50 BIGINT DEFAULT 0 NOT NULL, 
	h51 BIGINT DEFAULT 0 NOT NULL, 
	h52 BIGINT DEFAULT 0 NOT NULL, 
	h53 BIGINT DEFAULT 0 NOT NULL, 
	h54 BIGINT DEFAULT 0 NOT NULL, 
	h55 BIGINT DEFAULT 0 NOT NULL, 
	h56 BIGINT DEFAULT 0 NOT NULL, 
	h57 BIGINT DEFAULT 0 NOT NULL, 
	h58 BIGINT DEFAULT 0 NOT NULL, 
	h59 BIGINT DEFAULT 0 NOT NULL, 
	h60 BIGINT DEFAULT 0 NOT NULL, 
	h61 BIGINT DEFAULT 0 NOT NULL, 
	h62 BIGINT DEFAULT 0 NOT NULL, 
	h63 BIGINT DEFAULT 0 NOT NULL, 
	h64 BIGINT DEFAULT 0 NOT NULL, 
	h65 BIGINT DEFAULT 0 NOT NULL, 
	CONSTRAINT pk_analytics_attempts_daily PRIMARY KEY (bucket, provider, model, task_type, tenant)
);

CREATE INDEX ix_analytics_attempts_daily_tenant_bucket ON analytics_attempts_daily (tenant, bucket);

CREATE TABLE analytics_failures_hourly (
	bucket DATETIME NOT NULL, 
	provider VARCHAR NOT NULL, 
	task_type VARCHAR NOT NULL, 
	tenant VARCHAR NOT NULL, 
	outcome VARCHAR NOT NULL, 
	error_class VARCHAR NOT NULL, 
	failures BIGINT DEFAULT 0 NOT NULL, 
	as_fallback BIGINT DEFAULT 0 NOT NULL, 
	CONSTRAINT pk_analytics_failures_hourly PRIMARY KEY (bucket, provider, task_type, tenant, outcome, error_class)
);

CREATE INDEX ix_analytics_failures_hourly_tenant_bucket ON analytics_failures_hourly (tenant, bucket);

CREATE TABLE analytics_failures_daily (
	bucket DATETIME NOT NULL, 
	provider VARCHAR NOT NULL, 
	task_type VARCHAR NOT NULL, 
	tenant VARCHAR NOT NULL, 
	outcome VARCHAR NOT NULL, 
	error_class VARCHAR NOT NULL, 
	failures BIGINT DEFAULT 0 NOT NULL, 
	as_fallback BIGINT DEFAULT 0 NOT NULL, 
	CONSTRAINT pk_analytics_failures_daily PRIMARY KEY (bucket, provider, task_type, tenant, outcome, error_class)
);

CREATE INDEX ix_analytics_failures_daily_tenant_bucket ON analytics_failures_daily (tenant, bucket);

CREATE TABLE analytics_decisions_hourly (
	bucket DATETIME NOT NULL, 
	task_type VARCHAR NOT NULL, 
	tenant VARCHAR NOT NULL, 
	status VARCHAR NOT NULL, 
	primary_provider VARCHAR NOT NULL, 
	budget VARCHAR NOT NULL, 
	region VARCHAR NOT NULL, 
	requires_sla BOOLEAN NOT NULL, 
	requires_compliance BOOLEAN NOT NULL, 
	decisions BIGINT DEFAULT 0 NOT NULL, 
	max_tokens BIGINT DEFAULT 0 NOT NULL, 
	CONSTRAINT pk_analytics_decisions_hourly PRIMARY KEY (bucket, task_type, tenant, status, primary_provider, budget, region, requires_sla, requires_compliance)
);

CREATE INDEX ix_analytics_decisions_hourly_tenant_bucket ON analytics_decisions_hourly (tenant, bucket);

CREATE TABLE analytics_decisions_daily (
	bucket DATETIME NOT NULL, 
	task_type VARCHAR NOT NULL, 
	tenant VARCHAR NOT NULL, 
	status VARCHAR NOT NULL, 
	primary_provider VARCHAR NOT NULL, 
	budget VARCHAR NOT NULL, 
	region VARCHAR NOT NULL, 
	requires_sla BOOLEAN NOT NULL, 
	requires_compliance BOOLEAN NOT NULL, 
	decisions BIGINT DEFAULT 0 NOT NULL, 
	max_tokens BIGINT DEFAULT 0 NOT NULL, 
	CONSTRAINT pk_analytics_decisions_daily PRIMARY KEY (bucket, task_type, tenant, status, primary_provider, budget, region, requires_sla, requires_compliance)
);

CREATE INDEX ix_analytics_decisions_daily_tenant_bucket ON analytics_decisions_daily (tenant, bucket);

CREATE TABLE decision_lists (
	digest VARCHAR(64) NOT NULL, 
	entries JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	CONSTRAINT pk_decision_lists PRIMARY KEY (digest)
);

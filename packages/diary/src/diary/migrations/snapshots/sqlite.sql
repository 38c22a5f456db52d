-- diary schema for sqlite, dumped from the migrations by
-- python -m storage_core.schema.snapshot; do not edit.
-- revision: 0005_metric_summary

CREATE TABLE diary_alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT diary_alembic_version_pkc PRIMARY KEY (version_num)
);

CREATE TABLE project (
	id CHAR(32) NOT NULL, 
	name TEXT NOT NULL, 
	description TEXT DEFAULT '' NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME, 
	PRIMARY KEY (id), 
	CONSTRAINT ck_project_name_not_empty CHECK (name <> '')
);

CREATE TABLE experiment (
	id CHAR(32) NOT NULL, 
	project_id CHAR(32) NOT NULL, 
	name TEXT NOT NULL, 
	description TEXT DEFAULT '' NOT NULL, 
	status VARCHAR(16) DEFAULT 'in_progress' NOT NULL, 
	created_at DATETIME NOT NULL, 
	ended_at DATETIME, 
	updated_at DATETIME, 
	PRIMARY KEY (id), 
	CONSTRAINT fk_experiment_project_id_project FOREIGN KEY(project_id) REFERENCES project (id), 
	CONSTRAINT ck_experiment_name_not_empty CHECK (name <> ''), 
	CONSTRAINT ck_experiment_status CHECK (status IN ('in_progress', 'stopped', 'finished'))
);

CREATE TABLE iteration (
	id CHAR(32) NOT NULL, 
	experiment_id CHAR(32) NOT NULL, 
	parent_id CHAR(32), 
	status VARCHAR(16) DEFAULT 'running' NOT NULL, 
	notes TEXT DEFAULT '' NOT NULL, 
	error_message TEXT DEFAULT '' NOT NULL, 
	created_at DATETIME NOT NULL, 
	ended_at DATETIME, 
	python_version TEXT DEFAULT '' NOT NULL, 
	git_sha TEXT DEFAULT '' NOT NULL, 
	git_dirty BOOLEAN, 
	entry_point TEXT DEFAULT '' NOT NULL, 
	packages TEXT DEFAULT '' NOT NULL, environment_id TEXT, 
	PRIMARY KEY (id), 
	CONSTRAINT fk_iteration_experiment_id_experiment FOREIGN KEY(experiment_id) REFERENCES experiment (id), 
	CONSTRAINT fk_iteration_parent_id_iteration FOREIGN KEY(parent_id) REFERENCES iteration (id), 
	CONSTRAINT ck_iteration_status CHECK (status IN ('running', 'succeeded', 'failed', 'killed'))
);

CREATE TABLE parameter (
	iteration_id CHAR(32) NOT NULL, 
	"key" TEXT NOT NULL, 
	value TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (iteration_id, "key"), 
	CONSTRAINT fk_parameter_iteration_id_iteration FOREIGN KEY(iteration_id) REFERENCES iteration (id), 
	CONSTRAINT ck_parameter_key_not_empty CHECK (key <> '')
);

CREATE TABLE metric (
	iteration_id CHAR(32) NOT NULL, 
	"key" TEXT NOT NULL, 
	step BIGINT NOT NULL, 
	value DOUBLE NOT NULL, 
	timestamp DATETIME NOT NULL
);

CREATE TABLE resource (
	id CHAR(32) NOT NULL, 
	experiment_id CHAR(32) NOT NULL, 
	iteration_id CHAR(32), 
	name TEXT NOT NULL, 
	description TEXT DEFAULT '' NOT NULL, 
	media_type TEXT DEFAULT 'application/octet-stream' NOT NULL, 
	data BLOB, 
	backend TEXT DEFAULT 'inline' NOT NULL, 
	uri TEXT DEFAULT '' NOT NULL, 
	size_bytes BIGINT DEFAULT 0 NOT NULL, 
	content_hash TEXT DEFAULT '' NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME, 
	PRIMARY KEY (id), 
	CONSTRAINT fk_resource_experiment_id_experiment FOREIGN KEY(experiment_id) REFERENCES experiment (id), 
	CONSTRAINT fk_resource_iteration_id_iteration FOREIGN KEY(iteration_id) REFERENCES iteration (id), 
	CONSTRAINT ck_resource_name_not_empty CHECK (name <> '')
);

CREATE TABLE project_tag (
	project_id CHAR(32) NOT NULL, 
	tag TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (project_id, tag), 
	CONSTRAINT fk_project_tag_project_id_project FOREIGN KEY(project_id) REFERENCES project (id), 
	CONSTRAINT ck_project_tag_tag_not_empty CHECK (tag <> '')
);

CREATE TABLE experiment_tag (
	experiment_id CHAR(32) NOT NULL, 
	tag TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (experiment_id, tag), 
	CONSTRAINT fk_experiment_tag_experiment_id_experiment FOREIGN KEY(experiment_id) REFERENCES experiment (id), 
	CONSTRAINT ck_experiment_tag_tag_not_empty CHECK (tag <> '')
);

CREATE TABLE iteration_tag (
	iteration_id CHAR(32) NOT NULL, 
	tag TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (iteration_id, tag), 
	CONSTRAINT fk_iteration_tag_iteration_id_iteration FOREIGN KEY(iteration_id) REFERENCES iteration (id), 
	CONSTRAINT ck_iteration_tag_tag_not_empty CHECK (tag <> '')
);

CREATE TABLE model (
	id CHAR(32) NOT NULL, 
	project_id CHAR(32) NOT NULL, 
	name TEXT NOT NULL, 
	description TEXT DEFAULT '' NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME, 
	PRIMARY KEY (id), 
	CONSTRAINT fk_model_project_id_project FOREIGN KEY(project_id) REFERENCES project (id), 
	CONSTRAINT uq_model_project_name UNIQUE (project_id, name), 
	CONSTRAINT ck_model_name_not_empty CHECK (name <> '')
);

CREATE TABLE model_version (
	id CHAR(32) NOT NULL, 
	model_id CHAR(32) NOT NULL, 
	version BIGINT NOT NULL, 
	iteration_id CHAR(32) NOT NULL, 
	resource_id CHAR(32), 
	stage VARCHAR(16) DEFAULT 'none' NOT NULL, 
	description TEXT DEFAULT '' NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME, 
	PRIMARY KEY (id), 
	CONSTRAINT fk_model_version_model_id_model FOREIGN KEY(model_id) REFERENCES model (id), 
	CONSTRAINT fk_model_version_iteration_id_iteration FOREIGN KEY(iteration_id) REFERENCES iteration (id), 
	CONSTRAINT fk_model_version_resource_id_resource FOREIGN KEY(resource_id) REFERENCES resource (id), 
	CONSTRAINT uq_model_version_model_version UNIQUE (model_id, version), 
	CONSTRAINT ck_model_version_version_positive CHECK (version > 0), 
	CONSTRAINT ck_model_version_stage CHECK (stage IN ('none', 'staging', 'production', 'archived'))
);

CREATE TABLE resource_blob (
	resource_id CHAR(32) NOT NULL, 
	data BLOB NOT NULL, 
	PRIMARY KEY (resource_id), 
	CONSTRAINT fk_resource_blob_resource_id_resource FOREIGN KEY(resource_id) REFERENCES resource (id)
);

CREATE TABLE store_identity (
	id CHAR(32) NOT NULL, 
	location TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);

CREATE TABLE environment (
	id TEXT NOT NULL, 
	python_version TEXT DEFAULT '' NOT NULL, 
	git_sha TEXT DEFAULT '' NOT NULL, 
	git_dirty BOOLEAN, 
	entry_point TEXT DEFAULT '' NOT NULL, 
	packages TEXT DEFAULT '' NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);

CREATE TABLE metric_summary (
	iteration_id CHAR(32) NOT NULL, 
	"key" TEXT NOT NULL, 
	last DOUBLE NOT NULL, 
	step BIGINT NOT NULL, 
	last_timestamp DATETIME NOT NULL, 
	min DOUBLE NOT NULL, 
	max DOUBLE NOT NULL, 
	count BIGINT NOT NULL, 
	PRIMARY KEY (iteration_id, "key")
);

CREATE INDEX ix_metric_iteration_key_step ON metric (iteration_id, "key", step);


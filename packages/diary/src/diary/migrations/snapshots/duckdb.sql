-- diary schema for duckdb, dumped from the migrations by
-- python -m storage_core.schema.snapshot; do not edit.
-- revision: 0005_metric_summary

CREATE TABLE diary_alembic_version(version_num VARCHAR, PRIMARY KEY(version_num));

CREATE TABLE environment(id VARCHAR, python_version VARCHAR DEFAULT('') NOT NULL, git_sha VARCHAR DEFAULT('') NOT NULL, git_dirty BOOLEAN, entry_point VARCHAR DEFAULT('') NOT NULL, packages VARCHAR DEFAULT('') NOT NULL, created_at TIMESTAMP NOT NULL, PRIMARY KEY(id));

CREATE TABLE experiment(id UUID, project_id UUID NOT NULL, "name" VARCHAR NOT NULL, description VARCHAR DEFAULT('') NOT NULL, status VARCHAR DEFAULT('in_progress') NOT NULL, created_at TIMESTAMP NOT NULL, ended_at TIMESTAMP, updated_at TIMESTAMP, PRIMARY KEY(id), CHECK(("name" != '')), CHECK((status IN ('in_progress', 'stopped', 'finished'))));

CREATE TABLE experiment_tag(experiment_id UUID, tag VARCHAR, created_at TIMESTAMP NOT NULL, PRIMARY KEY(experiment_id, tag), CHECK((tag != '')));

CREATE TABLE iteration(id UUID, experiment_id UUID NOT NULL, parent_id UUID, status VARCHAR DEFAULT('running') NOT NULL, notes VARCHAR DEFAULT('') NOT NULL, error_message VARCHAR DEFAULT('') NOT NULL, created_at TIMESTAMP NOT NULL, ended_at TIMESTAMP, python_version VARCHAR DEFAULT('') NOT NULL, git_sha VARCHAR DEFAULT('') NOT NULL, git_dirty BOOLEAN, entry_point VARCHAR DEFAULT('') NOT NULL, packages VARCHAR DEFAULT('') NOT NULL, environment_id VARCHAR, PRIMARY KEY(id), CHECK((status IN ('running', 'succeeded', 'failed', 'killed'))));

CREATE TABLE iteration_tag(iteration_id UUID, tag VARCHAR, created_at TIMESTAMP NOT NULL, PRIMARY KEY(iteration_id, tag), CHECK((tag != '')));

CREATE TABLE metric(iteration_id UUID NOT NULL, "key" VARCHAR NOT NULL, step BIGINT NOT NULL, "value" DOUBLE NOT NULL, "timestamp" TIMESTAMP NOT NULL);

CREATE TABLE metric_summary(iteration_id UUID, "key" VARCHAR, "last" DOUBLE NOT NULL, step BIGINT NOT NULL, last_timestamp TIMESTAMP NOT NULL, min DOUBLE NOT NULL, max DOUBLE NOT NULL, count BIGINT NOT NULL, PRIMARY KEY(iteration_id, "key"));

CREATE TABLE model(id UUID, project_id UUID NOT NULL, "name" VARCHAR NOT NULL, description VARCHAR DEFAULT('') NOT NULL, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP, PRIMARY KEY(id), UNIQUE(project_id, "name"), CHECK(("name" != '')));

CREATE TABLE model_version(id UUID, model_id UUID NOT NULL, "version" BIGINT NOT NULL, iteration_id UUID NOT NULL, resource_id UUID, stage VARCHAR DEFAULT('none') NOT NULL, description VARCHAR DEFAULT('') NOT NULL, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP, PRIMARY KEY(id), UNIQUE(model_id, "version"), CHECK(("version" > 0)), CHECK((stage IN ('none', 'staging', 'production', 'archived'))));

CREATE TABLE parameter(iteration_id UUID, "key" VARCHAR, "value" VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, PRIMARY KEY(iteration_id, "key"), CHECK(("key" != '')));

CREATE TABLE project(id UUID, "name" VARCHAR NOT NULL, description VARCHAR DEFAULT('') NOT NULL, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP, PRIMARY KEY(id), CHECK(("name" != '')));

CREATE TABLE project_tag(project_id UUID, tag VARCHAR, created_at TIMESTAMP NOT NULL, PRIMARY KEY(project_id, tag), CHECK((tag != '')));

CREATE TABLE "resource"(id UUID, experiment_id UUID NOT NULL, iteration_id UUID, "name" VARCHAR NOT NULL, description VARCHAR DEFAULT('') NOT NULL, media_type VARCHAR DEFAULT('application/octet-stream') NOT NULL, "data" BLOB, backend VARCHAR DEFAULT('inline') NOT NULL, uri VARCHAR DEFAULT('') NOT NULL, size_bytes BIGINT DEFAULT(0) NOT NULL, content_hash VARCHAR DEFAULT('') NOT NULL, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP, PRIMARY KEY(id), CHECK(("name" != '')));

CREATE TABLE resource_blob(resource_id UUID PRIMARY KEY, "data" BLOB USING COMPRESSION Uncompressed NOT NULL);

CREATE TABLE store_identity(id UUID, "location" VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, PRIMARY KEY(id));


"""Promote a model only when heatgate passes it: gate (GPU) -> deploy inside dsl.If(verdict == 'pass').

Compile:  python pipeline.py            (writes heatgate_promotion.yaml; needs `pip install kfp>=2.8`)
Submit:   upload heatgate_promotion.yaml in the KFP UI, or kfp.Client().create_run_from_pipeline_package(...)

The heatgate step is component.yaml at the top of the repository. The candidate model comes in by URI; in a
training pipeline pass your training task's model output instead (model=train_task.outputs["model"]). `deploy` stands
in for your own deployment component (registry push, KServe InferenceService, ...).
"""

from pathlib import Path

from kfp import compiler, components, dsl

HEATGATE = components.load_component_from_file(str(Path(__file__).resolve().parents[2] / "component.yaml"))


@dsl.component(base_image="python:3.12-slim")
def deploy(model: dsl.Input[dsl.Model], report: dsl.Input[dsl.HTML]):
    """Your deployment step goes here; this one records what would be deployed."""
    print(f"deploying {model.uri}; heatmap report at {report.uri}")


@dsl.pipeline(name="heatgate-promotion", description="Gate a candidate on Grad-CAM heatmaps, deploy only on pass")
def promotion(
    candidate_model_uri: str = "s3://my-bucket/models/candidate.onnx",
    production_model_uri: str = "s3://my-bucket/models/production.onnx",
    images_uri: str = "s3://my-bucket/underpass/images",
    invalid_masks_uri: str = "s3://my-bucket/underpass/invalid",
    labels_uri: str = "s3://my-bucket/underpass/labels.csv",
    policy_uri: str = "s3://my-bucket/heatgate/policy.yaml",
):
    # Models and test data live in object storage: importer turns each URI into an artifact KFP downloads for the step.
    candidate = dsl.importer(artifact_uri=candidate_model_uri, artifact_class=dsl.Model, reimport=False)
    production = dsl.importer(artifact_uri=production_model_uri, artifact_class=dsl.Model, reimport=False)
    images = dsl.importer(artifact_uri=images_uri, artifact_class=dsl.Dataset, reimport=False)
    invalid = dsl.importer(artifact_uri=invalid_masks_uri, artifact_class=dsl.Dataset, reimport=False)
    labels = dsl.importer(artifact_uri=labels_uri, artifact_class=dsl.Dataset, reimport=False)
    policy = dsl.importer(artifact_uri=policy_uri, artifact_class=dsl.Artifact, reimport=False)

    gate = HEATGATE(
        model=candidate.output,
        baseline_model=production.output,
        images=images.output,
        invalid_masks=invalid.output,
        labels=labels.output,
        policy=policy.output,
        provider="cuda",
        batch_size=16,
    )
    gate.set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(1)
    gate.set_cpu_limit("4").set_memory_limit("8G")
    # A heatgate exit 4 (storage or infrastructure) is the only failure worth retrying; KFP retries any failure,
    # so keep the count small: exit 2/3/70 fail the same way again.
    gate.set_retry(num_retries=2)

    with dsl.If(gate.outputs["verdict"] == "pass", name="heatgate-passed"):
        deploy(model=candidate.output, report=gate.outputs["report"])


if __name__ == "__main__":
    compiler.Compiler().compile(promotion, str(Path(__file__).with_name("heatgate_promotion.yaml")))

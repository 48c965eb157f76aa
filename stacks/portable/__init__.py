"""Portable templates: the kit's stacks as plain CloudFormation for accounts without CDK.

``python -m stacks.portable --bucket <distribution bucket> [--prefix P]`` (``make package
BUCKET=... [PREFIX=...]``) produces templates that another account deploys with the
console, the CLI, StackSets or Service Catalog, with no ``cdk bootstrap``:

1. **Validate** the bucket name and prefix (one line and exit 2 on bad input, before
   anything is synthesized or uploaded).
2. **Synthesize** every stack with a ``CliCredentialsStackSynthesizer`` whose file asset
   bucket is the distribution bucket and whose key prefix is ``<prefix>/<version>/assets/``:
   no bootstrap roles, no ``BootstrapVersion`` parameter or rule, no ``cdk-hnb659fds``
   bucket; asset and path metadata and CDK analytics are off, so no local path remains.
3. **Operator knobs become Parameters** (:mod:`stacks.portable.parameters`). The design:
   the stacks themselves are unchanged and keep reading typed settings from context,
   so ``cdk synth`` / ``cdk deploy`` behave exactly as before; only the packager, after
   building the stacks, adds a ``CfnParameter`` per knob (default = the context value,
   with a type, a constraint and a description) and points the final resource property
   at it (an L1 property override). Knobs the stacks turn into Python decisions (names,
   a new or an existing VPC, optional secrets, role lists) are fixed at packaging time
   through context (``-c ironside:...``) and recorded in the manifest.
4. **Cross-stack values become Parameters** (:mod:`stacks.portable.links`): each
   ``Fn::ImportValue`` is replaced by a ``Ref`` to a parameter of the consuming stack and
   the producers' exports are dropped, so the templates can be created one after another
   by hand or as StackSets in accounts where no export exists. The manifest says which
   output of which stack feeds each such parameter.
5. **Publish** every file asset (engine wheel, host scripts, custom-resource code) to the
   distribution bucket (:mod:`stacks.portable.publish`, boto3, ``AWS_ENDPOINT_URL``
   honoured) and the final templates under ``<prefix>/<version>/templates/``; write the
   templates and ``manifest.json`` (stack order, parameters, asset sha256) into ``dist/``.
"""

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
3. **Operator knobs become Parameters**, defaulted from CDK context. The design, the
   simplest that serves both audiences: the stacks are unchanged and keep reading typed,
   validated settings from context, so ``cdk synth`` / ``cdk deploy`` behave exactly as
   before and need no parameter; only the packager turns knobs into parameters, in two
   ways:

   * numbers and types that reach one resource property (max vCPUs, Batch instance
     types, engine instance type, database capacity, log retention) get a
     ``CfnParameter`` and an L1 property override after the stacks are built
     (:mod:`stacks.portable.parameters`);
   * values the stacks weave into names, ARNs, policies and user data (name prefix,
     Docker Hub secret ARN, allowed job role ARNs, and with ``--existing-vpc N`` the VPC,
     its subnets and route tables) are synthesized as *sentinels* and replaced by
     parameter references in the templates afterwards (:mod:`stacks.portable.sentinels`);
     a left-over sentinel fails the packaging.

   Every parameter has a type, a constraint (pattern, allowed values or range, or an
   ``AWS::`` type CloudFormation checks) and a description. What stays fixed at packaging
   (new VPC or existing VPC with N zones, endpoints, encryption, removal policy, ...) is
   set with ``-c ironside:...`` and recorded under ``settings`` in the manifest.
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

// The gateway relay: one always-on container (discord.py) that turns gateway
// events into queue messages. Exactly one replica: two would hold two gateway
// sessions for the same shard and double every event (the lake would drop the
// duplicates, but at twice the cost). It takes no inbound traffic, so there is
// no ingress; the platform probes /healthz on the container's health port.

param name string
param location string = resourceGroup().location
param tags object = {}
param environmentId string
param registryLoginServer string
param identityId string
param identityClientId string
param keyVaultUri string
param queueServiceUri string
param applicationInsightsConnectionString string
param serviceName string = 'relay'

@description('Image to run; empty before the first `azd deploy` (a placeholder that has no /healthz, so probes are attached only to the real image).')
param imageName string = ''

@description('Port of the relay\'s /healthz endpoint.')
param healthPort int = 8080

var spoolMount = '/var/lib/relay' // relay/Dockerfile's spool lives below it
var placeholderImage = 'mcr.microsoft.com/azuredocs/containerapps-helloworld:latest'

var healthProbes = [
  {
    type: 'Startup'
    httpGet: {
      path: '/healthz'
      port: healthPort
    }
    periodSeconds: 5
    failureThreshold: 24 // up to 2 minutes to log in to the gateway
    timeoutSeconds: 3
  }
  {
    type: 'Liveness'
    httpGet: {
      path: '/healthz'
      port: healthPort
    }
    periodSeconds: 30
    failureThreshold: 3
    timeoutSeconds: 5
  }
  {
    type: 'Readiness'
    httpGet: {
      path: '/healthz'
      port: healthPort
    }
    periodSeconds: 10
    failureThreshold: 3
    timeoutSeconds: 5
  }
]

resource relay 'Microsoft.App/containerApps@2024-03-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    managedEnvironmentId: environmentId
    configuration: {
      activeRevisionsMode: 'Single'
      registries: [
        {
          server: registryLoginServer
          identity: identityId // AcrPull, no admin user
        }
      ]
      secrets: [
        {
          name: 'discord-bot-token'
          keyVaultUrl: '${keyVaultUri}secrets/discord-bot-token'
          identity: identityId
        }
        {
          name: 'synapse-fingerprint-key'
          keyVaultUrl: '${keyVaultUri}secrets/synapse-fingerprint-key'
          identity: identityId
        }
      ]
    }
    template: {
      containers: [
        {
          name: serviceName
          image: empty(imageName) ? placeholderImage : imageName
          resources: {
            cpu: json('0.25')
            memory: '0.5Gi'
          }
          // Names read by relay/config.py; tests/infra/test_relay_settings.py keeps them in step.
          env: [
            {
              name: 'SYNAPSE_ENV'
              value: 'production' // refuses a placeholder fingerprint key
            }
            {
              name: 'SYNAPSE_LOG_LEVEL'
              value: 'INFO'
            }
            {
              name: 'DISCORD_BOT_TOKEN'
              secretRef: 'discord-bot-token'
            }
            {
              name: 'SYNAPSE_FINGERPRINT_KEY'
              secretRef: 'synapse-fingerprint-key'
            }
            {
              name: 'SYNAPSE_EVENTS_QUEUE'
              value: 'synapse-events'
            }
            // Identity-based queue access, the same settings shape the Functions host uses;
            // synapse.queues builds a ManagedIdentityCredential when the service URI is set.
            {
              name: 'AzureWebJobsStorage__queueServiceUri'
              value: queueServiceUri
            }
            {
              name: 'AzureWebJobsStorage__credential'
              value: 'managedidentity'
            }
            {
              name: 'AzureWebJobsStorage__clientId'
              value: identityClientId
            }
            {
              name: 'AZURE_CLIENT_ID'
              value: identityClientId
            }
            {
              name: 'SYNAPSE_RELAY_HEALTH_PORT'
              value: string(healthPort)
            }
            {
              name: 'SYNAPSE_DATA_DIR'
              value: spoolMount
            }
            {
              name: 'SYNAPSE_RELAY_SPOOL_DIR'
              value: '${spoolMount}/spool'
            }
            {
              name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
              value: applicationInsightsConnectionString
            }
          ]
          probes: empty(imageName) ? [] : healthProbes
          volumeMounts: [
            {
              volumeName: 'spool'
              mountPath: spoolMount
            }
          ]
        }
      ]
      // EmptyDir survives container restarts within the replica (the spool's job:
      // ride out a queue outage), not the replica's replacement. Azure Files would
      // need a storage account key, which this deployment does not allow.
      volumes: [
        {
          name: 'spool'
          storageType: 'EmptyDir'
        }
      ]
      scale: {
        minReplicas: 1
        maxReplicas: 1
      }
    }
  }
}

output name string = relay.name
output resourceId string = relay.id

// The Function App (Flex Consumption, Python 3.12): queue triggers, timers and
// the one ASGI HTTP app under /api (interactions + dashboard API).
//
// Every variable the Settings object (synapse/config.py) reads is set below in
// `synapseSettings`; tests/infra/test_bicep.py fails if one is missing.

param name string
param location string = resourceGroup().location
param tags object = {}
param appServicePlanId string
param storageAccountName string
param deploymentStorageContainerName string
param applicationInsightsName string
param identityId string
param identityClientId string
@description('Name of the user-assigned identity: also its PostgreSQL role name.')
param identityName string
param keyVaultName string
param postgresHost string
param databaseName string
param dashboardOrigin string
param discordApplicationId string
param discordClientId string
param serviceName string = 'api'

@description('Memory per instance. 2048 MB is the Flex default and gives Python imports and the DB pool room.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

param maximumInstanceCount int = 40

// Connections per worker process (pool_size; the engine allows as many again as overflow).
var dbPoolSize = 5

// HTTP requests one instance takes at once before Flex adds another.
// Deliberately 10 = pool_size + max_overflow (2 × dbPoolSize): the ASGI app is
// async and waits on I/O, so one instance can serve many requests, but every
// request past the pool's 10 connections would only queue for a connection
// (eating into Discord's 3-second window) when a new instance would serve it at
// once. The Python default (1) would instead push every concurrent interaction
// onto a cold instance beyond the single always-ready one.
var httpPerInstanceConcurrency = 10

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

func kvRef(vault string, secret string) string => '@Microsoft.KeyVault(VaultName=${vault};SecretName=${secret})'

// Settings the Functions host itself reads. No connection string: the host and
// the queue triggers (connection "AzureWebJobsStorage") authenticate with the
// user-assigned identity through the __* settings.
var hostSettings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: storageAccount.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storageAccount.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: storageAccount.properties.primaryEndpoints.table
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

// Settings Synapse reads (synapse.config.Settings), one per field alias.
var synapseSettings = {
  SYNAPSE_ENV: 'production'
  // The user is the identity's name: Entra principals log in under their own name;
  // the password is an Entra ID token (synapse/db/entra.py) because SYNAPSE_DB_ENTRA_AUTH is true.
  SYNAPSE_DATABASE_URL: 'postgresql://${identityName}@${postgresHost}:5432/${databaseName}?sslmode=require'
  SYNAPSE_DB_ENTRA_AUTH: 'true'
  AZURE_CLIENT_ID: identityClientId
  SYNAPSE_DB_POOL_SIZE: string(dbPoolSize)
  // The package is mounted read-only; scratch space is /tmp (no embedded database in Azure).
  SYNAPSE_DATA_DIR: '/tmp/synapse'
  SYNAPSE_EVENTS_QUEUE: 'synapse-events'
  SYNAPSE_ANNOUNCE_QUEUE: 'synapse-announce'
  SYNAPSE_FOLLOWUP_QUEUE: 'synapse-followups'
  SYNAPSE_MAX_DEQUEUE_COUNT: '5' // = host.json extensions.queues.maxDequeueCount
  DISCORD_APPLICATION_ID: discordApplicationId
  DISCORD_CLIENT_ID: discordClientId
  DISCORD_API_BASE: 'https://discord.com/api/v10'
  DISCORD_CDN_BASE: 'https://cdn.discordapp.com'
  DISCORD_PUBLIC_KEY: kvRef(keyVaultName, 'discord-public-key')
  DISCORD_BOT_TOKEN: kvRef(keyVaultName, 'discord-bot-token')
  DISCORD_CLIENT_SECRET: kvRef(keyVaultName, 'discord-client-secret')
  SYNAPSE_JWT_SECRET: kvRef(keyVaultName, 'synapse-jwt-secret')
  SYNAPSE_FINGERPRINT_KEY: kvRef(keyVaultName, 'synapse-fingerprint-key')
  SYNAPSE_JWT_TTL_SECONDS: '3600'
  SYNAPSE_DIRECTORY_TTL_SECONDS: '600' // channel and role names: refetched from Discord after 10 min
  SYNAPSE_DASHBOARD_ORIGIN: dashboardOrigin
  SYNAPSE_TEST_LOGIN: 'false'
  SYNAPSE_LOG_LEVEL: 'INFO'
  // Only the local runner listens on it; set so the Settings object is fully specified.
  SYNAPSE_HTTP_PORT: '7071'
}

module site 'br/public:avm/res/web/site:0.15.1' = {
  name: '${serviceName}-flex-consumption'
  params: {
    kind: 'functionapp,linux'
    name: name
    location: location
    tags: union(tags, {
      'azd-service-name': serviceName
    })
    serverFarmResourceId: appServicePlanId
    managedIdentities: {
      systemAssigned: false
      userAssignedResourceIds: [
        identityId
      ]
    }
    // Key Vault references resolve with the user-assigned identity (Key Vault Secrets User).
    keyVaultAccessIdentityResourceId: identityId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageAccount.properties.primaryEndpoints.blob}${deploymentStorageContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        // One instance always warm for the HTTP group: interactions must be
        // answered within Discord's 3 seconds, which a cold Python start can miss.
        alwaysReady: [
          {
            name: 'http'
            instanceCount: 1
          }
        ]
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        triggers: {
          http: {
            perInstanceConcurrency: httpPerInstanceConcurrency
          }
        }
      }
      runtime: {
        name: 'python'
        version: '3.12'
      }
    }
    siteConfig: {
      alwaysOn: false
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    httpsOnly: true
    appSettingsKeyValuePairs: union(hostSettings, synapseSettings)
  }
}

output name string = site.outputs.name
output uri string = 'https://${site.outputs.defaultHostname}'

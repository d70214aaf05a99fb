// Synapse on Azure: everything `azd up` provisions.
//
// Shape follows Azure-Samples' Functions Flex Consumption azd quickstarts
// (subscription scope, one resource group, user-assigned identities, Azure
// Verified Modules, no keys or passwords anywhere):
//
//   relay (Container Apps, 1 replica) ──► Storage queues ──► api (Functions Flex Consumption)
//                                                              │
//   dashboard (Static Web App) ── /api/* ──────────────────────┘──► PostgreSQL 16 (Entra only)
//
// Secrets live in Key Vault and reach the apps as Key Vault references. The
// database role of the api identity and the schema are created after
// provisioning by infra/hooks/postprovision.sh (Bicep cannot run SQL).

targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used for the resource group and a short unique token in every resource name.')
param environmentName string

@minLength(1)
@description('Primary location for all resources. Must offer Functions Flex Consumption (e.g. eastus, eastus2, westus2, northeurope, westeurope, swedencentral, uksouth, australiaeast).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Location of the Static Web App (the service is offered in a few regions only; content is served globally).')
@allowed([
  'centralus'
  'eastus2'
  'eastasia'
  'westeurope'
  'westus2'
])
param staticWebAppLocation string = 'westeurope'

@description('Object id of the user or service principal running azd. Becomes the PostgreSQL Entra administrator (the postprovision hook uses it to create the app role and run migrations) and a Key Vault secrets officer.')
param principalId string = ''

@description('Name of that principal as PostgreSQL sees it: the UPN of a user, or the display name of a service principal. Set by the preprovision hook.')
param principalName string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
@description('Kind of that principal.')
param principalType string = 'User'

@description('Discord application (bot) id, from the developer portal.')
param discordApplicationId string

@description('OAuth2 client id for the dashboard login; empty means the application id (the usual case).')
param discordClientId string = ''

@secure()
@description('Hex Ed25519 public key that signs interactions.')
param discordPublicKey string

@secure()
@description('Bot token (REST calls and the relay\'s gateway connection).')
param discordBotToken string

@secure()
@description('OAuth2 client secret for the dashboard login.')
param discordClientSecret string

@secure()
@description('HS256 key for dashboard sessions, at least 32 characters. Generated once by the preprovision hook.')
param jwtSecret string

@secure()
@description('HMAC key for message fingerprints. Generated once by the preprovision hook; changing it resets repeat detection.')
param fingerprintKey string

@description('Email address for alerts (poison messages, function failures). Empty: the action group has no receiver yet.')
param alertEmail string = ''

@description('PostgreSQL compute. Burstable B2s allows ~429 connections; see functionMaximumInstanceCount.')
param postgresSkuName string = 'Standard_B2s'

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param postgresSkuTier string = 'Burstable'

@description('Most on-demand instances per function group (the HTTP group, and each queue/timer function on its own). 40 is the lowest value most regions accept. Each instance holds up to 2 × SYNAPSE_DB_POOL_SIZE = 10 database connections: see docs/deploy.md (Scaling).')
@minValue(1)
@maxValue(1000)
param functionMaximumInstanceCount int = 40

@description('Relay image; azd sets SERVICE_RELAY_IMAGE_NAME after the first deploy so later provisions keep it. Empty: a placeholder image.')
param relayImageName string = ''

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  application: 'synapse'
}

var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'
// Flex Consumption pulls the deployment package from this blob container.
var deploymentStorageContainerName = 'app-package-${take(functionAppName, 32)}-${take(toLower(uniqueString(functionAppName, resourceToken)), 7)}'
var keyVaultName = '${abbrs.keyVaultVaults}${resourceToken}'
var databaseName = 'synapse'
var queueNames = [
  'synapse-events'
  'synapse-events-poison'
  'synapse-announce'
  'synapse-announce-poison'
  'synapse-followups'
  'synapse-followups-poison'
]

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

// ---------------------------------------------------------------- identities
// One identity per workload so each gets only the roles it needs: the relay
// may only send to the queues; the api reads/writes queues, the deployment
// container, Key Vault secrets and the database.

module apiIdentity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'apiIdentity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module relayIdentity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'relayIdentity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}relay-${resourceToken}'
    location: location
    tags: tags
  }
}

// ---------------------------------------------------------------- monitoring

module monitoring 'br/public:avm/ptn/azd/monitoring:0.1.0' = {
  name: 'monitoring'
  scope: rg
  params: {
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    location: location
    tags: tags
  }
}

// ---------------------------------------------------------------- storage

module storage 'br/public:avm/res/storage/storage-account:0.8.3' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false // identities only: no connection string can exist
    dnsEndpointType: 'Standard'
    minimumTlsVersion: 'TLS1_2'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    blobServices: {
      containers: [
        {
          name: deploymentStorageContainerName
        }
      ]
    }
    // Created up front (not on first use) so the relay's sender-only identity
    // never needs the right to create queues, and the alerts have targets.
    queueServices: {
      queues: [for queueName in queueNames: {
        name: queueName
      }]
    }
  }
}

// ---------------------------------------------------------------- secrets

module keyVault 'br/public:avm/res/key-vault/vault:0.11.0' = {
  name: 'keyVault'
  scope: rg
  params: {
    name: keyVaultName
    location: location
    tags: tags
    sku: 'standard'
    enableRbacAuthorization: true
    enablePurgeProtection: false // `azd down --purge` must be able to remove it
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
    secrets: [
      {
        name: 'discord-bot-token'
        value: discordBotToken
      }
      {
        name: 'discord-public-key'
        value: discordPublicKey
      }
      {
        name: 'discord-client-secret'
        value: discordClientSecret
      }
      {
        name: 'synapse-jwt-secret'
        value: jwtSecret
      }
      {
        name: 'synapse-fingerprint-key'
        value: fingerprintKey
      }
    ]
    roleAssignments: concat([
      {
        principalId: apiIdentity.outputs.principalId
        principalType: 'ServicePrincipal'
        roleDefinitionIdOrName: 'Key Vault Secrets User'
      }
      {
        principalId: relayIdentity.outputs.principalId
        principalType: 'ServicePrincipal'
        roleDefinitionIdOrName: 'Key Vault Secrets User'
      }
    ], empty(principalId) ? [] : [
      {
        principalId: principalId
        principalType: principalType
        roleDefinitionIdOrName: 'Key Vault Secrets Officer' // rotate secrets (docs/deploy.md)
      }
    ])
  }
}

// ---------------------------------------------------------------- database

module postgres 'modules/postgres.bicep' = {
  name: 'postgres'
  scope: rg
  params: {
    name: '${abbrs.dBforPostgreSQLServers}${resourceToken}'
    location: location
    tags: tags
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    databaseName: databaseName
    administratorObjectId: principalId
    administratorName: principalName
    administratorType: principalType
  }
}

// ---------------------------------------------------------------- api (Functions)

module appServicePlan 'br/public:avm/res/web/serverfarm:0.1.1' = {
  name: 'appServicePlan'
  scope: rg
  params: {
    name: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    sku: {
      name: 'FC1'
      tier: 'FlexConsumption'
    }
    reserved: true // Linux
  }
}

module api 'modules/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    location: location
    tags: tags
    appServicePlanId: appServicePlan.outputs.resourceId
    storageAccountName: storage.outputs.name
    deploymentStorageContainerName: deploymentStorageContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    identityId: apiIdentity.outputs.resourceId
    identityClientId: apiIdentity.outputs.clientId
    identityName: apiIdentity.outputs.name
    keyVaultName: keyVault.outputs.name
    postgresHost: postgres.outputs.fqdn
    databaseName: databaseName
    dashboardOrigin: 'https://${staticWebApp.outputs.defaultHostname}'
    discordApplicationId: discordApplicationId
    discordClientId: empty(discordClientId) ? discordApplicationId : discordClientId
    maximumInstanceCount: functionMaximumInstanceCount
  }
  dependsOn: [
    rbac // the host needs its storage roles before its first start
  ]
}

// ---------------------------------------------------------------- relay (Container Apps)

module registry 'br/public:avm/res/container-registry/registry:0.9.0' = {
  name: 'registry'
  scope: rg
  params: {
    name: '${abbrs.containerRegistryRegistries}${resourceToken}'
    location: location
    tags: tags
    acrSku: 'Basic'
    acrAdminUserEnabled: false // pulls use the relay identity (AcrPull)
    roleAssignments: [
      {
        principalId: relayIdentity.outputs.principalId
        principalType: 'ServicePrincipal'
        roleDefinitionIdOrName: 'AcrPull'
      }
    ]
  }
}

module containerAppsEnvironment 'br/public:avm/res/app/managed-environment:0.4.5' = {
  name: 'containerAppsEnvironment'
  scope: rg
  params: {
    name: '${abbrs.appManagedEnvironments}${resourceToken}'
    location: location
    tags: tags
    logAnalyticsWorkspaceResourceId: monitoring.outputs.logAnalyticsWorkspaceResourceId
    zoneRedundant: false
  }
}

module relay 'modules/relay.bicep' = {
  name: 'relay'
  scope: rg
  params: {
    name: '${abbrs.appContainerApps}relay-${resourceToken}'
    location: location
    tags: tags
    environmentId: containerAppsEnvironment.outputs.resourceId
    registryLoginServer: registry.outputs.loginServer
    identityId: relayIdentity.outputs.resourceId
    identityClientId: relayIdentity.outputs.clientId
    keyVaultUri: keyVault.outputs.uri
    queueServiceUri: 'https://${storage.outputs.name}.queue.${environment().suffixes.storage}/'
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    imageName: relayImageName
  }
  dependsOn: [
    rbac // AcrPull / queue sender before the first revision starts
  ]
}

// ---------------------------------------------------------------- dashboard

module staticWebApp 'br/public:avm/res/web/static-site:0.3.0' = {
  name: 'staticWebApp'
  scope: rg
  params: {
    name: '${abbrs.webStaticSites}${resourceToken}'
    location: staticWebAppLocation
    tags: union(tags, {
      'azd-service-name': 'dashboard'
    })
    sku: 'Free' // static files only: the dashboard calls the Function App's /api/* directly
  }
}

// ---------------------------------------------------------------- roles

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    apiPrincipalId: apiIdentity.outputs.principalId
    relayPrincipalId: relayIdentity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

// ---------------------------------------------------------------- alerts

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    namePrefix: 'synapse-${resourceToken}'
    location: location
    tags: tags
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    alertEmail: alertEmail
    poisonQueueNames: filter(queueNames, q => endsWith(q, '-poison'))
  }
}

// ---------------------------------------------------------------- outputs
// azd stores these in .azure/<env>/.env; hooks and the CI workflow read them.

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name

output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.applicationInsightsConnectionString
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_QUEUE_SERVICE_URI string = 'https://${storage.outputs.name}.queue.${environment().suffixes.storage}/'
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_ENDPOINT string = keyVault.outputs.uri

output SERVICE_API_NAME string = api.outputs.name
output AZURE_FUNCTION_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
output DISCORD_INTERACTIONS_ENDPOINT_URL string = '${api.outputs.uri}/api/interactions'
output AZURE_API_IDENTITY_NAME string = apiIdentity.outputs.name
output AZURE_API_IDENTITY_CLIENT_ID string = apiIdentity.outputs.clientId
output AZURE_API_IDENTITY_PRINCIPAL_ID string = apiIdentity.outputs.principalId

output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output AZURE_CONTAINER_REGISTRY_NAME string = registry.outputs.name
output AZURE_CONTAINER_ENVIRONMENT_NAME string = containerAppsEnvironment.outputs.name
output SERVICE_RELAY_NAME string = relay.outputs.name

output SERVICE_DASHBOARD_NAME string = staticWebApp.outputs.name
output SERVICE_DASHBOARD_URI string = 'https://${staticWebApp.outputs.defaultHostname}'

output POSTGRES_SERVER_NAME string = postgres.outputs.name
output POSTGRES_HOST string = postgres.outputs.fqdn
output POSTGRES_DATABASE string = databaseName
output POSTGRES_ADMIN_NAME string = principalName
